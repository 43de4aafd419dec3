"""Whitespace and invisible-character normalisation for decoded, ftfy-fixed text.

`normalize_whitespace` keeps paragraph structure (single newlines and single blank lines)
and removes what only adds noise for a tokenizer:

* CRLF, lone CR, NEL (U+0085), LINE SEPARATOR and PARAGRAPH SEPARATOR become "\\n";
* control characters (Unicode category Cc) are removed, except "\\n" and "\\t"; a form feed
  or vertical tab is a page/line break, so it becomes "\\n" rather than gluing words;
* zero-width and byte-order-mark characters (U+200B, U+2060, U+FEFF, U+00AD soft hyphen)
  are removed; ZWJ/ZWNJ (U+200D/U+200C) are kept, because they change how Indic/Persian
  words and emoji sequences render and are part of their correct spelling;
* trailing spaces and tabs are stripped from every line;
* three or more consecutive newlines (two or more blank lines) collapse to one blank line;
* leading and trailing blank lines are removed;
* Unicode NFC, so the same visible text is the same code points everywhere.

NO-BREAK SPACE (U+00A0) and the other Unicode spaces are kept: in French ("« oui »",
"10 %") and in numbers ("10 000") they carry meaning, and a tokenizer can learn them; only
as trailing whitespace are they stripped like ordinary spaces.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from transforms.text_pieces import pieces

_LINE_BREAK_RE = re.compile("\r\n|[\r\x0b\x0c\x85\u2028\u2029]")
# Cc except \t and \n (\r, \x0b, \x0c and \x85 are already line breaks by then).
_CONTROL_AND_INVISIBLE_RE = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f\u00ad\u200b\u2060\ufeff]")
# Any character the two patterns above replace. Most texts hold none, and one search for a single
# character class scans several times faster than a substitution trying an alternation everywhere.
_LINE_BREAK_OR_CONTROL_RE = re.compile(
    "[\r\x0b\x0c\x85\u2028\u2029\x00-\x08\x0e-\x1f\x7f-\x9f\u00ad\u200b\u2060\ufeff]"
)
_BLANK_LINES_RE = re.compile(r"\n{3,}")


def normalize_whitespace(text: str) -> str:
    """Return `text` normalised as described in the module docstring (input and output: str)."""
    return normalize_pieces(pieces(text))


def normalize_pieces(text_pieces: Iterable[str], nfc: bool = False) -> str:
    """`normalize_whitespace("".join(text_pieces))`, where each piece but the last ends with "\n"
    (transforms/text_pieces.py): no rule reaches across a line break but those on runs of line
    breaks, which are carried from piece to piece, so only one piece is ever copied or split (a list
    of a text's lines takes about twice the text) and the result is joined once.

    nfc: the text is NFC already (ftfy's output is), which spares the NFC pass over every piece
    that holds no character to replace or remove: taking whitespace from the end of a line and
    line breaks from a run of them leaves NFC text NFC, since both are starters that compose with
    nothing and a composition never looks back past a starter."""
    out: list[str] = []
    pending = 0  # line breaks at the end of what is read so far, not yet written
    for piece in text_pieces:
        replaces = _LINE_BREAK_OR_CONTROL_RE.search(piece) is not None
        piece = _normalize_lines(piece, replaces)
        body = piece.strip("\n")
        if not body:
            pending += len(piece)
            continue
        leading = len(piece) - len(piece.lstrip("\n"))
        if out:  # none before the text's first line: leading blank lines are removed
            out.append("\n" * min(pending + leading, 2))  # two or more blank lines become one
        if "\n\n\n" in body:
            body = _BLANK_LINES_RE.sub("\n\n", body)
        # NFC last: removing an invisible character can bring a letter and its accent together. It
        # never reaches across a line break ("\n" composes with nothing).
        out.append(body if nfc and not replaces else unicodedata.normalize("NFC", body))
        pending = len(piece) - len(piece.rstrip("\n"))  # trailing blank lines are removed
    return "".join(out)


def _normalize_lines(text: str, replaces: bool) -> str:
    """Line breaks and controls replaced or removed (where `replaces`: text holds one), and trailing
    whitespace stripped, in whole lines."""
    if replaces:
        text = _LINE_BREAK_RE.sub("\n", text)
        text = _CONTROL_AND_INVISIBLE_RE.sub("", text)
    # str.rstrip strips what the regex [^\S\n]+$ would (both use str.isspace), without trying
    # the regex at every space of the text (5x slower); map() calls it with no Python frame per line.
    return "\n".join(map(str.rstrip, text.split("\n")))
