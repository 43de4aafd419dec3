"""FineWeb's own rules (Penedo et al. 2024, section 3.5): line structure of extracted web text.

Rules, in order, each a reason "fineweb.<rule>": terminal_punctuation_lines, short_lines,
duplicate_line_chars, newlines_per_word. Thresholds: pipeline/config.FineWebConfig.

FineWeb measured its text as trafilatura returns it, one line break between paragraphs;
our cleaned text has a blank line between paragraphs. Lines are therefore the non-blank
lines and line breaks are counted between them, which gives the same figures either way.
"""

from __future__ import annotations

from pipeline.config import FineWebConfig
from transforms.filters.base import KEEP, Filter, Verdict
from transforms.filters.text import duplicate_stats, ends_with_sentence_terminal, lines, words


class FineWeb(Filter):
    name = "fineweb"

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

        if (n_lines - 1) / len(words(text)) > config.max_newlines_per_word:
            return self.drop("newlines_per_word")
        return KEEP
