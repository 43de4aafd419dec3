"""Gopher's quality rules (Rae et al. 2021, appendix A.1.1): does this look like prose?

Rules, in order, each a reason "gopher_quality.<rule>": word_count, mean_word_length,
symbol_ratio, bullet_lines, ellipsis_lines, alpha_words, stop_words. Thresholds:
GopherQualityConfig below. Word count and stop words are checked again whenever a later step
edits the text (keep_after_edit).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import filterfalse, repeat

from transforms.filters.base import KEEP, Filter, Verdict
from transforms.filters.text import PUNCTUATION, lines, word_chunks, word_count
from transforms.settings import must_be_fraction, must_be_non_negative, setting


@dataclass
class GopherQualityConfig:
    # Rae et al. 2021, "Scaling Language Models: Methods, Analysis & Insights from Training
    # Gopher", appendix A.1.1 (quality filters of MassiveWeb). Words are whitespace-separated.
    min_words: int = setting("Documents with fewer words are dropped (word_count). Gopher: 50.", default=50)
    max_words: int = setting(
        "Documents with more words are dropped (word_count); 0: no limit. Gopher: 100,000.", default=100_000
    )
    min_mean_word_length: float = setting(
        "Mean word length below this, in characters without surrounding punctuation, drops the "
        "document (mean_word_length). Gopher: 3.",
        default=3.0,
    )
    max_mean_word_length: float = setting("Mean word length above this drops the document. Gopher: 10.", default=10.0)
    max_symbol_word_ratio: float = setting(
        "'#' per word, or ellipses ('...', '…') per word, above this drops the document (symbol_ratio). Gopher: 0.1.",
        default=0.1,
    )
    max_bullet_line_fraction: float = setting(
        "Fraction of lines starting with a bullet (•, -, *, ...) above this drops the document "
        "(bullet_lines). Gopher: 0.9.",
        default=0.9,
    )
    max_ellipsis_line_fraction: float = setting(
        "Fraction of lines ending with an ellipsis above this drops the document (ellipsis_lines). Gopher: 0.3.",
        default=0.3,
    )
    min_alpha_word_fraction: float = setting(
        "Fraction of words containing a letter below this drops the document (alpha_words). Gopher: 0.8.", default=0.8
    )
    min_stop_words: int = setting(
        "Documents containing fewer of the distinct stop_words (any case) are dropped (stop_words). Gopher: 2.",
        default=2,
    )
    stop_words: list[str] = setting(
        "Gopher's English stop words.", default_factory=lambda: ["the", "be", "to", "of", "and", "that", "have", "with"]
    )

    def problems(self, where: str) -> list[str]:
        problems = must_be_non_negative(f"{where}.min_words", self.min_words)
        problems += must_be_non_negative(f"{where}.max_words", self.max_words)
        if not 0 <= self.min_mean_word_length <= self.max_mean_word_length:
            problems.append(
                f"{where}.min_mean_word_length: {self.min_mean_word_length!r} must be between 0 "
                f"and max_mean_word_length ({self.max_mean_word_length!r})"
            )
        problems += must_be_non_negative(f"{where}.max_symbol_word_ratio", self.max_symbol_word_ratio)
        for name in ("max_bullet_line_fraction", "max_ellipsis_line_fraction", "min_alpha_word_fraction"):
            problems += must_be_fraction(f"{where}.{name}", getattr(self, name))
        return problems + must_be_non_negative(f"{where}.min_stop_words", self.min_stop_words)


# Bullet characters (datatrove checks "•" and "-" only; dashes of dialogue are not bullets).
BULLETS = ("•", "●", "○", "◦", "▪", "▫", "■", "□", "‣", "∙", "·", "►", "➢", "-", "*")
ELLIPSES = ("...", "…")
# A letter, of any script.
_LETTER_RE = re.compile(r"[^\W\d_]")


class GopherQuality(Filter):
    name = "gopher_quality"
    settings = GopherQualityConfig

    def __init__(self, config: GopherQualityConfig | None = None):
        self.config = config or GopherQualityConfig()
        stop_words = "|".join(sorted(map(re.escape, self.config.stop_words)))
        self._stop_word_re = re.compile(rf"(?<!\w)(?:{stop_words})(?!\w)", re.IGNORECASE) if stop_words else None

    def keep(self, text: str) -> Verdict:
        config = self.config
        n_words = word_count(text)
        if not self._word_count_allowed(n_words):
            return self.drop("word_count")
        if n_words == 0:  # min_words is 0: the remaining ratios are undefined, nothing to judge
            return KEEP

        measured = _WordMeasures.of(text)
        mean_length = measured.bare_chars / measured.bare_words if measured.bare_words else 0.0
        if not config.min_mean_word_length <= mean_length <= config.max_mean_word_length:
            return self.drop("mean_word_length")

        ellipses = text.count("...") + text.count("…")
        if max(text.count("#"), ellipses) / n_words > config.max_symbol_word_ratio:
            return self.drop("symbol_ratio")

        text_lines = lines(text)
        bullets = sum(1 for line in text_lines if line.lstrip().startswith(BULLETS))
        if bullets / len(text_lines) > config.max_bullet_line_fraction:
            return self.drop("bullet_lines")
        trailing = sum(1 for line in text_lines if line.rstrip().endswith(ELLIPSES))
        if trailing / len(text_lines) > config.max_ellipsis_line_fraction:
            return self.drop("ellipsis_lines")

        if measured.with_letter / n_words < config.min_alpha_word_fraction:
            return self.drop("alpha_words")

        if config.min_stop_words and not self._has_stop_words(text):
            return self.drop("stop_words")
        return KEEP

    def keep_after_edit(self, text: str) -> Verdict:
        """Word count and stop words again, on text a later step edited: C4 removes lines after these
        rules passed, and a page it leaves with 12 words is not a 50-word document."""
        if not self._word_count_allowed(word_count(text)):
            return self.drop("word_count")
        if self.config.min_stop_words and not self._has_stop_words(text):
            return self.drop("stop_words")
        return KEEP

    def _word_count_allowed(self, n_words: int) -> bool:
        config = self.config
        return config.min_words <= n_words and not (config.max_words and n_words > config.max_words)

    def _has_stop_words(self, text: str) -> bool:
        """At least min_stop_words distinct stop words; stops reading as soon as it knows."""
        found: set[str] = set()
        for match in self._stop_word_re.finditer(text) if self._stop_word_re else ():
            found.add(match.group().lower())
            if len(found) >= self.config.min_stop_words:
                return True
        return False


@dataclass
class _WordMeasures:
    """What the word rules measure, summed over a text's words a piece at a time (text.word_chunks).

    bare_words, bare_chars: the words and their characters once surrounding punctuation is stripped
    (a word of punctuation only is no word); with_letter: the words holding a letter of any script.
    """

    bare_words: int = 0
    bare_chars: int = 0
    with_letter: int = 0

    @classmethod
    def of(cls, text: str) -> _WordMeasures:
        measured = cls()
        for tokens in word_chunks(text):
            # Most words are letters only: nothing to strip, and a letter. Word by word work is for
            # the others, about a fifth of the words of prose, and goes through map() and filter(),
            # which call C functions with no Python frame per word (twice as fast as a comprehension).
            others = list(filterfalse(str.isalpha, tokens))
            bare_others = list(map(str.strip, others, repeat(PUNCTUATION)))
            # Punctuation holds no letter: a word whose bare form is letters only has one. The
            # regex is for the rest (numbers, "don't", ""), a quarter of the others.
            unsure = list(filterfalse(str.isalpha, bare_others))
            measured.bare_words += len(tokens) - bare_others.count("")
            measured.bare_chars += sum(map(len, tokens)) - sum(map(len, others)) + sum(map(len, bare_others))
            lettered_unsure = len(list(filter(None, map(_LETTER_RE.search, unsure))))
            measured.with_letter += len(tokens) - len(unsure) + lettered_unsure
        return measured
