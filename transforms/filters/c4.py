"""C4's rules (Raffel et al. 2020, section 2.2), as TFDS's c4_utils.clean_page applies them.

Line by line, in TFDS's order: a line with a word longer than max_word_length is removed;
citation markers are cut out; a line not ending in terminal punctuation (or ending in an
ellipsis) is removed; so is a line with fewer than min_words_per_line words; "lorem ipsum"
drops the whole document (c4.lorem_ipsum); a line mentioning javascript is removed; a "{"
drops the whole document (c4.curly_bracket); a line with a cookie/policy phrase is removed.
A document left with fewer than min_sentences sentences is dropped (c4.too_few_sentences).
Thresholds and switches: C4Config below. The bad-words rule of the paper is left
out (docs/filters.md).

The kept lines keep their paragraph breaks (TFDS joins them with single newlines). Removed
lines are counted as lines_removed.c4.<why>.

Sentences are counted with a regular expression (TFDS uses NLTK's punkt, which needs a
download): a sentence ends at ".", "!", "?" or "…" followed by space and a capital, a
digit or an opening quote, or at the end of the line, except after Mr./Dr./St. and the like.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from transforms.filters.base import KEEP, Filter, Verdict
from transforms.filters.text import split_lines
from transforms.settings import must_be_non_negative, setting


@dataclass
class C4Config:
    # Raffel et al. 2020, "Exploring the Limits of Transfer Learning with a Unified Text-to-Text
    # Transformer", section 2.2, as implemented by TFDS's c4_utils.clean_page. See docs/filters.md.
    remove_lines_without_terminal_punctuation: bool = setting(
        "Keep only lines ending in '.', '!', '?' or a closing quote (and not in '...'). C4: on. "
        "FineWeb turned it off (it removed ~30% of tokens); fineweb's own line rule then applies.",
        default=True,
    )
    min_words_per_line: int = setting(
        "Lines with fewer words are removed. T5 paper and TFDS: 5 (datatrove's port: 3).", default=5
    )
    min_sentences: int = setting(
        "Documents with fewer sentences left are dropped (too_few_sentences). T5 paper and TFDS: 3 "
        "(datatrove's port: 5).",
        default=3,
    )
    max_word_length: int = setting(
        "Lines with a longer word (characters) are removed; 0: no limit. TFDS: 1000.", default=1000
    )
    remove_javascript_lines: bool = setting("Remove lines containing 'javascript' (any case). C4: on.", default=True)
    remove_policy_lines: bool = setting(
        "Remove lines containing 'terms of use', 'privacy policy', 'cookie policy' or 'use(s) "
        "cookies' / 'use of cookies'. C4: on.",
        default=True,
    )
    drop_lorem_ipsum: bool = setting("Drop documents containing 'lorem ipsum' (lorem_ipsum). C4: on.", default=True)
    drop_curly_bracket: bool = setting(
        "Drop documents with a '{' in a kept line (curly_bracket). C4: on.", default=True
    )
    remove_citations: bool = setting(
        "Remove Wikipedia-style markers: [1], [edit], [citation needed]. C4: on.", default=True
    )

    def problems(self, where: str) -> list[str]:
        problems = []
        for name in ("min_words_per_line", "min_sentences", "max_word_length"):
            problems += must_be_non_negative(f"{where}.{name}", getattr(self, name))
        return problems


# The paper: "a period, exclamation mark, question mark, or end quotation mark". TFDS checks
# '"' only; our cleaning keeps typographic quotes, so their closing forms count too.
END_MARKS = (".", "!", "?", '"', "”", "'", "’")
ELLIPSES = ("...", "…")
POLICY_PHRASES = ("terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies", "use cookies")
_POLICY_WORDS = ("cookie", "terms", "privacy")  # each phrase holds one
CITATION_RE = re.compile(r"\[\d*\]|\[edit\]|\[citation needed\]")
_SENTENCE_BREAK_RE = re.compile(r"[.!?…]+[\"'”’)\]]*\s+(?=[\"'“‘(\[]?[A-Z0-9À-ÖØ-Þ])")
ABBREVIATIONS = ("Mr", "Mrs", "Ms", "Dr", "St", "Jr", "Sr", "Prof", "vs", "No")


def count_sentences(line: str) -> int:
    """Sentences in one non-empty line (the line's end closes the last one)."""
    breaks = 0
    for match in _SENTENCE_BREAK_RE.finditer(line):
        word = line[: match.start()].rsplit(None, 1)[-1] if match.start() else ""
        if word.lstrip("(\"'“‘") not in ABBREVIATIONS:
            breaks += 1
    return breaks + 1


class C4(Filter):
    name = "c4"
    settings = C4Config

    def __init__(self, config: C4Config | None = None):
        self.config = config or C4Config()

    def keep(self, text: str) -> Verdict:
        config = self.config
        kept: list[str] = []
        kept_lines: list[int] = []  # of the text's non-blank lines, those kept: Verdict.kept_lines
        removed: Counter = Counter()
        sentences = 0
        paragraph_break = False
        position = -1
        for line in split_lines(text):  # not a list of them all: twice the text
            line = line.strip()
            if not line:
                paragraph_break = bool(kept)
                continue
            position += 1
            if (
                config.max_word_length
                and len(line) > config.max_word_length
                and any(len(word) > config.max_word_length for word in line.split())
            ):
                removed["too_long_word"] += 1
                continue
            if config.remove_citations and "[" in line:  # every marker starts with one; most lines have none
                line = CITATION_RE.sub("", line).strip()
            if config.remove_lines_without_terminal_punctuation and (
                not line.endswith(END_MARKS) or line.endswith(ELLIPSES)
            ):
                removed["no_terminal_punctuation"] += 1
                continue
            if _fewer_words(line, config.min_words_per_line):
                removed["too_few_words"] += 1
                continue
            lower = line.lower()
            if config.drop_lorem_ipsum and "lorem ipsum" in lower:
                return self.drop("lorem_ipsum", counts=_line_counts(removed))
            if config.remove_javascript_lines and "javascript" in lower:
                removed["javascript"] += 1
                continue
            if config.drop_curly_bracket and "{" in line:
                return self.drop("curly_bracket", counts=_line_counts(removed))
            if config.remove_policy_lines and _mentions_policy(lower):
                removed["policy"] += 1
                continue
            if paragraph_break:
                kept.append("")
                paragraph_break = False
            kept.append(line)
            kept_lines.append(position)
            sentences += count_sentences(line)

        counts = _line_counts(removed)
        if sentences < config.min_sentences:
            return self.drop("too_few_sentences", counts=counts)
        edited = "\n".join(kept)
        if edited == text:
            return KEEP
        return Verdict(keep=True, text=edited, counts=counts, kept_lines=kept_lines)


def _fewer_words(line: str, n: int) -> bool:
    """len(line.split()) < n for a stripped line, splitting off at most n words: a long line's words
    are not all made into strings."""
    return len(line.split(None, n - 1)) < n


def _mentions_policy(lower_line: str) -> bool:
    """True if the lowercased line holds one of POLICY_PHRASES; most lines hold none of the three
    words they share, which three substring searches rule out."""
    return any(word in lower_line for word in _POLICY_WORDS) and any(p in lower_line for p in POLICY_PHRASES)


def _line_counts(removed: Counter) -> dict[str, int]:
    return {f"lines_removed.c4.{why}": n for why, n in sorted(removed.items())}
