"""Gopher's repetition rules (Rae et al. 2021, appendix A.1.1, table A1): is this text repeating itself?

Rules, in order, each a reason "gopher_repetition.<rule>": duplicate_paragraphs,
duplicate_paragraph_chars, duplicate_lines, duplicate_line_chars, top_{2,3,4}gram,
duplicate_{5..10}gram. Thresholds: GopherRepetitionConfig below.

How the n-gram fractions are measured, following the paper's wording:
  - the denominator is the characters of all words (whitespace not counted);
  - top n-gram: characters covered by every occurrence of the most frequent n-gram (ties:
    the longest), only where it occurs at least twice;
  - duplicate n-grams: characters covered by occurrences that repeat an earlier occurrence;
  - "taking care not to count characters that occur in overlapping n-grams more than once":
    a word covered by several such occurrences counts once.
The n-grams are hashed to 64-bit integers and counted with numpy, which keeps a whole book
at tens of milliseconds. Books get the same rules with their own thresholds (book_repetition,
BookRepetitionConfig): repeated lines and paragraphs only, at just under a whole second copy.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from transforms.filters.base import KEEP, Filter, Verdict
from transforms.filters.text import duplicate_stats, lines, paragraphs, word_chunks, word_count
from transforms.settings import must_be_fraction, setting


@dataclass
class GopherRepetitionConfig:
    # Rae et al. 2021, appendix A.1.1 and table A1 (repetition removal). A duplicate is an
    # occurrence that repeats an earlier one; fractions of characters count each character once.
    max_duplicate_line_fraction: float = setting(
        "Fraction of lines that repeat an earlier line; above it the document is dropped "
        "(duplicate_lines). Gopher: 0.3.",
        default=0.3,
    )
    max_duplicate_paragraph_fraction: float = setting(
        "The same for paragraphs (duplicate_paragraphs). Gopher: 0.3.", default=0.3
    )
    max_duplicate_line_char_fraction: float = setting(
        "Fraction of line characters in repeated lines (duplicate_line_chars). Gopher: 0.2.", default=0.2
    )
    max_duplicate_paragraph_char_fraction: float = setting(
        "Fraction of paragraph characters in repeated paragraphs (duplicate_paragraph_chars). Gopher: 0.2.", default=0.2
    )
    max_top_2gram_char_fraction: float = setting(
        "Fraction of word characters covered by the most frequent word 2-gram (top_2gram). Gopher: 0.20.", default=0.20
    )
    max_top_3gram_char_fraction: float = setting("The same for 3-grams (top_3gram). Gopher: 0.18.", default=0.18)
    max_top_4gram_char_fraction: float = setting("The same for 4-grams (top_4gram). Gopher: 0.16.", default=0.16)
    max_duplicate_5gram_char_fraction: float = setting(
        "Fraction of word characters covered by repeated word 5-grams (duplicate_5gram). Gopher: 0.15.", default=0.15
    )
    max_duplicate_6gram_char_fraction: float = setting("The same for 6-grams. Gopher: 0.14.", default=0.14)
    max_duplicate_7gram_char_fraction: float = setting("The same for 7-grams. Gopher: 0.13.", default=0.13)
    max_duplicate_8gram_char_fraction: float = setting("The same for 8-grams. Gopher: 0.12.", default=0.12)
    max_duplicate_9gram_char_fraction: float = setting("The same for 9-grams. Gopher: 0.11.", default=0.11)
    max_duplicate_10gram_char_fraction: float = setting("The same for 10-grams. Gopher: 0.10.", default=0.10)

    def problems(self, where: str) -> list[str]:
        problems = []
        for f in dataclasses.fields(self):
            problems += must_be_fraction(f"{where}.{f.name}", getattr(self, f.name))
        return problems


# A file that holds its text twice repeats half its lines, paragraphs and characters (0.5); a book
# may repeat anything short of that.
_JUST_UNDER_TWICE = 0.45
# A fraction of characters is at most 1: this limit never drops.
_NO_LIMIT = 1.0


@dataclass
class BookRepetitionConfig(GopherRepetitionConfig):
    # Gopher's repetition thresholds were set for web pages (Rae et al. 2021, appendix A.1.1: steps of
    # the MassiveWeb pipeline). In a book, repetition is the author's: refrains, litanies, speaker
    # names. Psalm 136 (KJV), whose every verse ends "for his mercy endureth for ever", has repeated
    # 5-grams over 0.53 of its characters, more than a file holding its text twice (0.5): no n-gram
    # limit tells a refrain from a copy; repeated lines and paragraphs do. Of the books in
    # ../shared/corpora (bench/books.py), tinyshakespeare repeats the most lines (0.22: speaker
    # names) and 10026 the most paragraphs (0.16: a periodical's "* * * * *" separators).
    max_duplicate_line_fraction: float = setting(
        "Fraction of lines that repeat an earlier line (duplicate_lines). Books: 0.45, just under "
        "the 0.5 of a file holding its text twice; the corpora's books reach 0.22.",
        default=_JUST_UNDER_TWICE,
    )
    max_duplicate_paragraph_fraction: float = setting(
        "The same for paragraphs (duplicate_paragraphs). Books: 0.45; the corpora's books reach 0.16.",
        default=_JUST_UNDER_TWICE,
    )
    max_duplicate_line_char_fraction: float = setting(
        "Fraction of line characters in repeated lines (duplicate_line_chars). Books: 0.45.",
        default=_JUST_UNDER_TWICE,
    )
    max_duplicate_paragraph_char_fraction: float = setting(
        "Fraction of paragraph characters in repeated paragraphs (duplicate_paragraph_chars). Books: 0.45.",
        default=_JUST_UNDER_TWICE,
    )
    max_top_2gram_char_fraction: float = setting(
        "Most frequent 2-gram (top_2gram). Books: 1 (off): the rule finds keyword stuffing, a web "
        "page's defect; a book's most frequent phrase is its refrain (Psalm 136: 0.22).",
        default=_NO_LIMIT,
    )
    max_top_3gram_char_fraction: float = setting("The same for 3-grams. Books: 1 (off).", default=_NO_LIMIT)
    max_top_4gram_char_fraction: float = setting("The same for 4-grams. Books: 1 (off).", default=_NO_LIMIT)
    max_duplicate_5gram_char_fraction: float = setting(
        "Repeated 5-grams (duplicate_5gram). Books: 1 (off): a refrain repeats more 5-grams (Psalm 136: "
        "0.53) than a copy of the whole text does (0.5); the line and paragraph rules find copies.",
        default=_NO_LIMIT,
    )
    max_duplicate_6gram_char_fraction: float = setting("The same for 6-grams. Books: 1 (off).", default=_NO_LIMIT)
    max_duplicate_7gram_char_fraction: float = setting("The same for 7-grams. Books: 1 (off).", default=_NO_LIMIT)
    max_duplicate_8gram_char_fraction: float = setting("The same for 8-grams. Books: 1 (off).", default=_NO_LIMIT)
    max_duplicate_9gram_char_fraction: float = setting("The same for 9-grams. Books: 1 (off).", default=_NO_LIMIT)
    max_duplicate_10gram_char_fraction: float = setting("The same for 10-grams. Books: 1 (off).", default=_NO_LIMIT)


TOP_NGRAM_SIZES = (2, 3, 4)
DUPLICATE_NGRAM_SIZES = (5, 6, 7, 8, 9, 10)
_HASH_MULTIPLIER = np.uint64(0x100000001B3)  # FNV-64 prime: odd, so the n-gram hash mixes every word


class GopherRepetition(Filter):
    name = "gopher_repetition"
    settings = GopherRepetitionConfig

    def __init__(self, config: GopherRepetitionConfig | None = None):
        self.config = config or GopherRepetitionConfig()
        # A fraction of characters never exceeds 1: a limit of 1 is off, and its n-grams are not counted
        # (book_repetition turns off all of them, and a book has half a million words).
        self._top_limits = [
            (n, limit)
            for n in TOP_NGRAM_SIZES
            if (limit := getattr(self.config, f"max_top_{n}gram_char_fraction")) < _NO_LIMIT
        ]
        self._duplicate_limits = [
            (n, limit)
            for n in DUPLICATE_NGRAM_SIZES
            if (limit := getattr(self.config, f"max_duplicate_{n}gram_char_fraction")) < _NO_LIMIT
        ]

    def keep(self, text: str) -> Verdict:
        config = self.config
        for unit, items, max_count, max_chars in (
            (
                "paragraph",
                paragraphs(text),
                config.max_duplicate_paragraph_fraction,
                config.max_duplicate_paragraph_char_fraction,
            ),
            ("line", lines(text), config.max_duplicate_line_fraction, config.max_duplicate_line_char_fraction),
        ):
            if not items:
                continue
            count, chars = duplicate_stats(items)
            if count / len(items) > max_count:
                return self.drop(f"duplicate_{unit}s")
            if chars / sum(map(len, items)) > max_chars:
                return self.drop(f"duplicate_{unit}_chars")

        if not (self._top_limits or self._duplicate_limits):
            return KEEP
        ngrams = WordNgrams(text)
        for n, limit in self._top_limits:
            if ngrams.top_char_fraction(n) > limit:
                return self.drop(f"top_{n}gram")
        for i, (n, limit) in enumerate(self._duplicate_limits):
            fraction = ngrams.duplicate_char_fraction(n)
            if fraction > limit:
                return self.drop(f"duplicate_{n}gram")
            # Longer repeated n-grams cover no more characters than shorter ones: once below
            # every remaining limit, no larger n can fail.
            if all(fraction <= later for _, later in self._duplicate_limits[i + 1 :]):
                break
        return KEEP


class BookRepetition(GopherRepetition):
    """Gopher's repetition rules with book thresholds (BookRepetitionConfig): a book repeating its
    whole text is dropped, a book with refrains is not. Reasons: "book_repetition.<rule>"."""

    name = "book_repetition"
    settings = BookRepetitionConfig

    def __init__(self, config: BookRepetitionConfig | None = None):
        super().__init__(config or BookRepetitionConfig())


class WordNgrams:
    """The word n-grams of one text (words: transforms/filters/text.py), as 64-bit hashes per start position.

    Ask for sizes in increasing order: each size's hashes extend the previous size's. Words
    are hashed with Python's hash(): equal words get equal hashes within the process, which
    is all that counting repeats needs (two different n-grams colliding in 64 bits: ~1e-9).
    """

    def __init__(self, text: str):
        n_words = word_count(text)
        self._word_hashes = np.empty(n_words, dtype=np.uint64)
        self._lengths = np.empty(n_words, dtype=np.int64)
        done = 0
        for tokens in word_chunks(text):  # never a list of all the words: ten times the text
            upto = done + len(tokens)
            self._word_hashes[done:upto] = np.fromiter(map(hash, tokens), dtype=np.int64, count=len(tokens)).view(
                np.uint64
            )
            self._lengths[done:upto] = np.fromiter(map(len, tokens), dtype=np.int64, count=len(tokens))
            done = upto
        self._cumulative = np.concatenate(([0], np.cumsum(self._lengths)))
        self._total_chars = int(self._cumulative[-1])
        self._n = 1
        self._hashes = self._word_hashes

    def hashes(self, n: int) -> np.ndarray:
        """Hash of the n-gram starting at each position (len(tokens) - n + 1 of them)."""
        if n < self._n:
            raise ValueError(f"n-gram sizes must increase: {n} after {self._n}")
        while self._n < n:
            self._n += 1
            kept = max(len(self._word_hashes) - self._n + 1, 0)
            self._hashes = self._hashes[:kept] * _HASH_MULTIPLIER + self._word_hashes[self._n - 1 :]
        return self._hashes

    def top_char_fraction(self, n: int) -> float:
        """Share of word characters inside occurrences of the most frequent n-gram (0 if none repeats)."""
        groups = _Groups(self.hashes(n))
        if groups.empty:
            return 0.0
        counts = groups.sizes()
        most = counts.max()
        if most < 2:
            return 0.0
        candidates = np.flatnonzero(counts == most)
        ngram_chars = self._cumulative[n:] - self._cumulative[:-n]
        best = candidates[np.argmax(ngram_chars[groups.first_positions()[candidates]])]
        return self._covered_chars(groups.group_of_positions() == best, n) / self._total_chars

    def duplicate_char_fraction(self, n: int) -> float:
        """Share of word characters inside n-gram occurrences that repeat an earlier occurrence."""
        groups = _Groups(self.hashes(n))
        if groups.empty:
            return 0.0
        first = groups.first_positions()[groups.group_of_positions()]
        return self._covered_chars(first != np.arange(len(first)), n) / self._total_chars

    def _covered_chars(self, starts: np.ndarray, n: int) -> int:
        """Characters of the words inside at least one n-gram starting where `starts` is True."""
        started = np.concatenate(([0], np.cumsum(starts)))
        position = np.arange(len(self._lengths))
        upto = np.minimum(position + 1, len(starts))
        since = np.maximum(position - n + 1, 0)
        covered = started[upto] - started[since] > 0
        return int(self._lengths[covered].sum())


class _Groups:
    """Equal values of an array, found with one (unstable, fast) sort."""

    def __init__(self, values: np.ndarray):
        self.empty = len(values) < 2
        if self.empty:
            return
        self._order = np.argsort(values)
        ordered = values[self._order]
        self._is_start = np.concatenate(([True], ordered[1:] != ordered[:-1]))
        self._starts = np.flatnonzero(self._is_start)

    def sizes(self) -> np.ndarray:
        return np.diff(np.append(self._starts, len(self._order)))

    def first_positions(self) -> np.ndarray:
        """Per group, the position of its earliest element."""
        return np.minimum.reduceat(self._order, self._starts)

    def group_of_positions(self) -> np.ndarray:
        """Per position of the original array, the number of its group."""
        groups = np.empty(len(self._order), dtype=np.int64)
        groups[self._order] = np.cumsum(self._is_start) - 1
        return groups
