"""FineWeb's own rules (Penedo et al. 2024, section 3.5): line structure of extracted web text.

Rules, in order, each a reason "fineweb.<rule>": terminal_punctuation_lines, short_lines,
duplicate_line_chars, newlines_per_word. Thresholds: FineWebConfig below.

FineWeb measured its text as trafilatura returns it, one line break between paragraphs;
our cleaned text has a blank line between paragraphs. Lines are therefore the non-blank
lines and line breaks are counted between them, which gives the same figures either way.
"""

from __future__ import annotations

from dataclasses import dataclass

from transforms.filters.base import KEEP, Filter, Verdict
from transforms.filters.text import duplicate_stats, ends_with_sentence_terminal, lines, word_count
from transforms.settings import must_be_fraction, must_be_non_negative, setting


@dataclass
class FineWebConfig:
    # Penedo et al. 2024, "The FineWeb Datasets: Decanting the Web for the Finest Text Data at
    # Scale", section 3.5 (the FineWeb custom filters).
    min_terminal_punctuation_line_fraction: float = setting(
        "Fraction of lines ending in sentence-final punctuation below this drops the document "
        "(terminal_punctuation_lines). FineWeb: 0.12.",
        default=0.12,
    )
    max_short_line_fraction: float = setting(
        "Fraction of lines of at most short_line_chars characters above this drops the document "
        "(short_lines). FineWeb: 0.67.",
        default=0.67,
    )
    short_line_chars: int = setting("What a short line is, in characters. FineWeb: 30.", default=30)
    max_duplicate_line_char_fraction: float = setting(
        "Fraction of characters in lines that repeat an earlier line above this drops the document "
        "(duplicate_line_chars). FineWeb: 0.01.",
        default=0.01,
    )
    max_newlines_per_word: float = setting(
        "Line breaks per word above this drops the document (newlines_per_word; blank lines are "
        "not counted). FineWeb: 0.3.",
        default=0.3,
    )

    def problems(self, where: str) -> list[str]:
        problems = []
        for name in (
            "min_terminal_punctuation_line_fraction",
            "max_short_line_fraction",
            "max_duplicate_line_char_fraction",
        ):
            problems += must_be_fraction(f"{where}.{name}", getattr(self, name))
        problems += must_be_non_negative(f"{where}.short_line_chars", self.short_line_chars)
        return problems + must_be_non_negative(f"{where}.max_newlines_per_word", self.max_newlines_per_word)


class FineWeb(Filter):
    name = "fineweb"
    settings = FineWebConfig

    def __init__(self, config: FineWebConfig | None = None):
        self.config = config or FineWebConfig()

    def keep(self, text: str) -> Verdict:
        config = self.config
        text_lines = lines(text)
        if not text_lines:
            return self.drop("terminal_punctuation_lines")
        n_lines = len(text_lines)

        ending = sum(1 for line in text_lines if ends_with_sentence_terminal(line))
        if ending / n_lines < config.min_terminal_punctuation_line_fraction:
            return self.drop("terminal_punctuation_lines")

        short = sum(1 for line in text_lines if len(line) <= config.short_line_chars)
        if short / n_lines > config.max_short_line_fraction:
            return self.drop("short_lines")

        _, repeated_chars = duplicate_stats(text_lines)
        if repeated_chars / sum(map(len, text_lines)) > config.max_duplicate_line_char_fraction:
            return self.drop("duplicate_line_chars")

        if (n_lines - 1) / word_count(text) > config.max_newlines_per_word:
            return self.drop("newlines_per_word")
        return KEEP
