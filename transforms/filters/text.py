"""What the rule families measure in a text, defined once so they all mean the same.

Texts here are cleaned documents (transforms/normalize.py): "\\n" line breaks, no trailing
spaces, paragraphs separated by one blank line. A *line* is a non-blank line and a
*paragraph* a block between blank lines, so the blank lines our cleaning puts between
paragraphs change no ratio. A *word* is a whitespace-separated token, as in Gopher.

A large document's words are never held as one list, which would take ten times the text:
`word_chunks` gives them a piece of the text at a time (transforms/text_pieces.py), and
`word_count` keeps its last answer, so the steps of a document count its words once. `lines`
keeps its last answer too (a list of lines costs about twice its text); the list it returns is
shared: read it, never change it.
"""

from __future__ import annotations

import functools
import re
import string
from collections.abc import Iterator

import regex

from transforms.text_pieces import WHITESPACE, pieces

# Unicode's Sentence_Terminal characters (".", "!", "?", "。", "؟", "।", ...): what FineWeb's
# line-punctuation rule counts as the end of a sentence (datatrove lists the same characters).
_SENTENCE_TERMINAL_RE = regex.compile(r"\p{Sentence_Terminal}")
PUNCTUATION = string.punctuation + "«»“”„‘’‚‹›—–…·•¡¿、。，；：！？（）【】《》「」"
_PARAGRAPH_BREAK_RE = re.compile(r"\n\s*\n")


def word_chunks(text: str) -> Iterator[list[str]]:
    """The words of `text` (whitespace-separated tokens, punctuation attached, as `text.split()`),
    in order, as one list per piece of the text (transforms/text_pieces.py).

    A text of one piece is that piece, whose words are kept (`_split`): the steps of a small
    document split it once. The lists are shared: read them, never change them."""
    return map(_split, pieces(text, WHITESPACE, keep_separator=False))


@functools.lru_cache(maxsize=1)
def _split(piece: str) -> list[str]:
    return piece.split()


@functools.lru_cache(maxsize=1)
def word_count(text: str) -> int:
    """len(text.split()), without the list."""
    return sum(map(len, word_chunks(text)))


def split_lines(text: str) -> Iterator[str]:
    """The parts of `text.split("\n")`, blank lines included, a piece of the text at a time."""
    for piece in pieces(text, keep_separator=False):
        yield from piece.split("\n")


@functools.lru_cache(maxsize=1)
def lines(text: str) -> list[str]:
    """Non-blank lines, in order."""
    return [line for line in split_lines(text) if line.strip()]


def paragraphs(text: str) -> list[str]:
    """Blocks of text between blank lines, in order."""
    return [block for block in _PARAGRAPH_BREAK_RE.split(text) if block.strip()]


def ends_with_sentence_terminal(line: str) -> bool:
    """True if the last character of `line` ends a sentence in any script."""
    return bool(line) and _SENTENCE_TERMINAL_RE.match(line, len(line) - 1) is not None


def duplicate_stats(items: list[str]) -> tuple[int, int]:
    """(how many items repeat an earlier item, their characters).

    The first occurrence is the original and is not counted: "A A B" has one duplicate.
    This is how Gopher's repetition rules are read by RefinedWeb/FineWeb (datatrove).
    """
    seen: set[str] = set()
    count = chars = 0
    for item in items:
        if item in seen:
            count += 1
            chars += len(item)
        else:
            seen.add(item)
    return count, chars
