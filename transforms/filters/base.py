"""The contract every filter step follows: `keep(text) -> Verdict`.

A step looks at one document's text and answers whether to keep it; when it drops the
document it says why, as "<step>.<rule>" (e.g. "gopher_quality.symbol_ratio"). The name
says what True means, so it cannot be read backwards (datatrove's `filter()` returns True
to keep, while its docstring says "true if a sample should be filtered").

Steps that edit the text (C4 removes lines, PII replaces addresses) return the new text;
steps that measure something (language identification) return the output columns they
fill; any step may return counts of what it did. Counting drops, writing rejected
documents and choosing steps per source happen once, in transforms/filters/stage.py.

A step whose rules set a minimum that removing text can break (Gopher's word count and stop
words) also answers `keep_after_edit(text)`: the stage asks it again whenever a later step has
edited the text, so no kept document is shorter than the minimum it passed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Mapping, Sequence

from transforms.records import FilterColumns


@dataclass(frozen=True)
class Verdict:
    """What one step decided about one document.

    keep: False drops the document. reason: why, "<step>.<rule>", exactly when keep is False.
    text: the edited text, None where the step left the text as it was.
    columns: values for the output row's filter columns (language, language_score).
    counts: stats counters and increments (e.g. {"pii.email": 2}); counted whatever the verdict.
    kept_lines: for a step that removes lines, the positions (0-based) of the lines `text` keeps among
    the non-blank lines of the text it judged, in order; None where `text` has those lines one for one.
    """

    keep: bool
    reason: str | None = None
    text: str | None = None
    columns: FilterColumns = field(default_factory=FilterColumns)
    counts: Mapping[str, int] = field(default_factory=dict)
    kept_lines: Sequence[int] | None = None

    def __post_init__(self):
        if self.keep == (self.reason is not None):
            raise ValueError(f"a Verdict has a reason exactly when it drops: keep={self.keep}, reason={self.reason!r}")


KEEP = Verdict(keep=True)


class Filter:
    """A filter step. Subclasses set `name` (the config's step name) and `settings` (the dataclass
    of its thresholds, its section of the config's `filters`), and implement `keep`."""

    name: ClassVar[str]
    settings: ClassVar[type]
    # True for a step that only replaces spans and never drops: an e-mail address in code is as
    # personal as one in prose, so the stage applies its edit to marked code blocks as well.
    edits_code: ClassVar[bool] = False

    def __init__(self, config: object | None = None):
        """`config`: an instance of `settings`, None for its defaults. Each subclass takes it typed as its
        own `settings` class; the filter stage, which builds any step by name from its section, knows
        only that it is one of them."""

    def keep(self, text: str) -> Verdict:
        """The verdict on `text`, a cleaned document (str, paragraphs separated by blank lines)."""
        raise NotImplementedError

    def keep_after_edit(self, text: str) -> Verdict:
        """The verdict of this step's minimum rules on `text` after a later step edited it (removed lines,
        say). Ratios are judged once, on the text as it came; only a minimum can newly fail: KEEP."""
        return KEEP

    def drop(self, rule: str, **details) -> Verdict:
        """A verdict that drops the document because of `rule` (one of this step's rules)."""
        return Verdict(keep=False, reason=f"{self.name}.{rule}", **details)
