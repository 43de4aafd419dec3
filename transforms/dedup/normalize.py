"""The words of a text as deduplication sees them: case, punctuation and spacing folded away.

`Normalizer(config).words(text)` returns the text's words as UTF-8 bytes. Two texts that differ
only in case, punctuation, symbols or spacing (and, optionally, digits) give the same words, so
the same exact key (`exact_key`) and the same shingles. What folds, by DedupConfig:

* lowercase:          `str.casefold` ("Straße" and "STRASSE" both become "strasse");
* strip_punctuation:  every Unicode punctuation (P*) and symbol (S*) character separates words,
                      like a space: "well-known" is two words, "don't" is "don" "t";
* fold_digits:        every decimal digit (Nd, any script) becomes "0";
* always:             words are separated by any run of whitespace (ASCII or Unicode Z*).

Letters, combining marks and format characters (ZWJ/ZWNJ are part of Indic and Persian
spelling) stay inside words. Scripts written without spaces (Chinese, Japanese, Thai) give a
few long "words" per sentence; see docs/dedup.md.

Speed: the text is folded with C-level string methods and one numpy table look-up per code
point (only for non-ASCII text), never a Python loop over characters: about 45 MB/s per core.
"""

from __future__ import annotations

import functools
import sys
import unicodedata

import numpy as np
import xxhash

from transforms.dedup.settings import DedupConfig

# Classes of a code point in the look-up table.
_WORD, _SPACE, _PUNCTUATION, _DIGIT, _UNKNOWN = 0, 1, 2, 3, 255


def _classify(code: int) -> int:
    category = unicodedata.category(chr(code))
    if category[0] == "Z" or chr(code).isspace():
        return _SPACE
    if category[0] in "PS":
        return _PUNCTUATION
    if category == "Nd":
        return _DIGIT
    return _WORD


class _CodePointClasses:
    """uint8 class of every code point (1.1 MB), filled in as code points are first seen.

    Classifying all 1.1 million code points up front costs a second of Python per process; a
    text uses a few hundred distinct ones.
    """

    def __init__(self):
        self._table = np.full(sys.maxunicode + 1, _UNKNOWN, dtype=np.uint8)

    def __call__(self, code_points: np.ndarray) -> np.ndarray:
        classes = self._table[code_points]
        unknown = classes == _UNKNOWN
        if unknown.any():
            for code in np.unique(code_points[unknown]).tolist():
                self._table[code] = _classify(code)
            classes = self._table[code_points]
        return classes


_code_point_classes = functools.cache(_CodePointClasses)


class Normalizer:
    """Folds texts per the normalisation settings of a DedupConfig."""

    def __init__(self, config: DedupConfig):
        self._lowercase = config.lowercase
        self._classes = _code_point_classes()
        self._fold_punctuation = config.strip_punctuation
        self._fold_digits = config.fold_digits
        # ASCII (and the UTF-8 bytes of ASCII) fold with bytes.translate; bytes >= 0x80 pass.
        table = bytearray(range(256))
        for byte in range(128):
            kind = _classify(byte)
            if kind == _SPACE or (kind == _PUNCTUATION and self._fold_punctuation):
                table[byte] = ord(" ")
            elif kind == _DIGIT and self._fold_digits:
                table[byte] = ord("0")
        self._ascii_table = bytes(table)

    def words(self, text: str) -> list[bytes]:
        """The words of `text` after folding, as UTF-8 bytes, in order."""
        if self._lowercase:
            text = text.casefold()
        if not text.isascii():
            text = self._fold_non_ascii(text)
        return text.encode("utf-8").translate(self._ascii_table).split()

    def _fold_non_ascii(self, text: str) -> str:
        """Unicode spaces (and punctuation, digits, as configured) mapped to ASCII ' ' and '0'."""
        code_points = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
        classes = self._classes(code_points)
        # Non-ASCII spaces always split words: bytes.split only knows ASCII whitespace.
        space = (classes == _SPACE) & (code_points >= 128)
        if self._fold_punctuation:
            space |= classes == _PUNCTUATION
        digit = (classes == _DIGIT) & (code_points >= 128) if self._fold_digits else None
        if not space.any() and (digit is None or not digit.any()):
            return text
        folded = np.where(space, np.uint32(ord(" ")), code_points)
        if digit is not None:
            folded = np.where(digit, np.uint32(ord("0")), folded)
        return folded.astype(np.uint32).tobytes().decode("utf-32-le")


def exact_key(words: list[bytes]) -> int:
    """The exact-duplicate key of a text from its words: 128-bit xxh3 of the words joined by spaces."""
    return xxhash.xxh3_128_intdigest(b" ".join(words))
