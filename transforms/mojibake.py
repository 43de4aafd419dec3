"""Repairs mojibake that ftfy cannot see because it was transliterated to ASCII.

Some Project Gutenberg files went UTF-8 -> read as Windows-1252 -> transliterated to
ASCII: a right single quote (UTF-8 E2 80 99) became "â€™", then "aEuro(TM)". The bytes
are plain ASCII, so no decoder or mojibake detector can recognise them, yet thousands
occur in real books (c-w/gutenberg 33956, 35190, 36261, 38507). The third character
names the original punctuation unambiguously, except Windows-1252 0x9D, which has no
character and became U+FFFD, and 0x93/0x94 (en and em dash) which both became '"':
we take the em dash, the one prose uses between words.
"""

from __future__ import annotations

import re

# Windows-1252 transliteration of the third UTF-8 byte -> the character it encoded.
_TRANSLITERATED = {
    "(TM)": "\u2019",  # 0x99 ™  -> ’
    "~": "\u2018",  # 0x98 ˜  -> ‘
    "oe": "\u201c",  # 0x9C œ  -> “
    "\ufffd": "\u201d",  # 0x9D (undefined, lost) -> ”
    '"': "\u2014",  # 0x94 ” (or 0x93 “) -> — (or –)
    "z": "\u201e",  # 0x9E ž  -> „
}
_PATTERN = re.compile("aEuro(" + "|".join(re.escape(k) for k in _TRANSLITERATED) + ")")


def repair_transliterated_mojibake(text: str) -> str:
    """`text` with every "aEuro" + transliterated byte replaced by the punctuation it was."""
    if "aEuro" not in text:  # the common case costs one substring search
        return text
    return _PATTERN.sub(lambda match: _TRANSLITERATED[match.group(1)], text)
