"""What the rule families measure in a text, defined once so they all mean the same.

Texts here are cleaned documents (transforms/normalize.py): "\\n" line breaks, no trailing
spaces, paragraphs separated by one blank line. A *line* is a non-blank line and a
*paragraph* a block between blank lines, so the blank lines our cleaning puts between
paragraphs change no ratio. A *word* is a whitespace-separated token, as in Gopher.

The steps of a document ask for its words and lines in turn, of the same text: `words` and `lines`
keep their last answer, so a document is split once, whatever the number of steps. The lists they
return are shared: read them, never change them.
"""

from __future__ import annotations

import functools
import re
import string

import regex

# Unicode's Sentence_Terminal characters (".", "!", "?", "。", "؟", "।", ...): what FineWeb's
# line-punctuation rule counts as the end of a sentence (datatrove lists the same characters).
_SENTENCE_TERMINAL_RE = regex.compile(r"\p{Sentence_Terminal}")
PUNCTUATION = string.punctuation + "«»“”„‘’‚‹›—–…·•¡¿、。，；：！？（）【】《》「」"
_PARAGRAPH_BREAK_RE = re.compile(r"\n\s*\n")


@functools.lru_cache(maxsize=1)
def words(text: str) -> list[str]:
    """Whitespace-separated tokens, punctuation attached."""
    return text.split()


@functools.lru_cache(maxsize=1)
def lines(text: str) -> list[str]:
    """Non-blank lines, in order."""
    return [line for line in text.split("\n") if line.strip()]


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
