"""Gopher's quality rules (Rae et al. 2021, appendix A.1.1): does this look like prose?

Rules, in order, each a reason "gopher_quality.<rule>": word_count, mean_word_length,
symbol_ratio, bullet_lines, ellipsis_lines, alpha_words, stop_words. Thresholds:
pipeline/config.GopherQualityConfig.
"""

from __future__ import annotations

import re

from pipeline.config import GopherQualityConfig
from transforms.filters.base import KEEP, Filter, Verdict
from transforms.filters.text import PUNCTUATION, lines, words

# Bullet characters (datatrove checks "•" and "-" only; dashes of dialogue are not bullets).
BULLETS = ("•", "●", "○", "◦", "▪", "▫", "■", "□", "‣", "∙", "·", "►", "➢", "-", "*")
ELLIPSES = ("...", "…")
# A whitespace-separated token with at least one letter (any script).
_WORD_WITH_LETTER_RE = re.compile(r"\S*[^\W\d_]\S*")


class GopherQuality(Filter):
    name = "gopher_quality"

    def __init__(self, config: GopherQualityConfig | None = None):
        self.config = config or GopherQualityConfig()
        stop_words = "|".join(sorted(map(re.escape, self.config.stop_words)))
        self._stop_word_re = re.compile(rf"(?<!\w)(?:{stop_words})(?!\w)", re.IGNORECASE) if stop_words else None

    def keep(self, text: str) -> Verdict:
        config = self.config
        tokens = words(text)
        n_words = len(tokens)
        if n_words < config.min_words or (config.max_words and n_words > config.max_words):
            return self.drop("word_count")
        if n_words == 0:  # min_words is 0: the remaining ratios are undefined, nothing to judge
            return KEEP

        lengths = [len(bare) for bare in (token.strip(PUNCTUATION) for token in tokens) if bare]
        mean_length = sum(lengths) / len(lengths) if lengths else 0.0
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

        with_letter = len(_WORD_WITH_LETTER_RE.findall(text))
        if with_letter / n_words < config.min_alpha_word_fraction:
            return self.drop("alpha_words")

        if config.min_stop_words and not self._has_stop_words(text):
            return self.drop("stop_words")
        return KEEP

    def _has_stop_words(self, text: str) -> bool:
        """At least min_stop_words distinct stop words; stops reading as soon as it knows."""
        found: set[str] = set()
        for match in self._stop_word_re.finditer(text) if self._stop_word_re else ():
            found.add(match.group().lower())
            if len(found) >= self.config.min_stop_words:
                return True
        return False
