"""A large text a piece at a time, so that per-line and per-word work never holds a copy of all of it.

A list of a document's words takes some 60 bytes a word, ten times the text; a list of its lines
about twice the text (docs/reliability.md, "Memory per document"). The steps that work line by
line or word by word take the text in pieces of about half a million characters instead, cut where a line or a
word ends, and give the same results. A text shorter than a piece is one piece: itself, not a copy.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

# Under ftfy's max_decode_length (10**6), above which transforms/unicode_fix.py takes its slow path.
PIECE_CHARS = 1 << 19
NEWLINE = re.compile("\n")
# What str.split() splits on: re's \s for str patterns is exactly str.isspace.
WHITESPACE = re.compile(r"\s")


def pieces(
    text: str,
    separator: re.Pattern[str] = NEWLINE,
    keep_separator: bool = True,
    chars: int = PIECE_CHARS,
    start: int = 0,
    end: int | None = None,
) -> Iterator[str]:
    """Consecutive slices of text[start:end], each cut at the first `separator` match `chars`
    characters or more past its start (a text with no such match is one piece).

    keep_separator: each piece but the last ends with its match, and "".join(pieces) == text; else the
    matches are left out, and splitting each piece at `separator` gives, in order, exactly the parts
    that splitting `text` would: the concatenated `piece.split("\\n")` are `text.split("\\n")`.
    """
    end = len(text) if end is None else end
    while True:
        cut = separator.search(text, start + chars, end) if start + chars < end else None
        if cut is None:
            yield text[start:end]
            return
        yield text[start : cut.end() if keep_separator else cut.start()]
        start = cut.end()
