"""The filter stage: each source's documents go through its list of steps, in order.

    cleaned row --steps of its source: language, gopher_*, fineweb, c4, pii--> kept row
                     |         (after a step edits the text, the steps before it re-check their minimums)
                     +-- first Verdict(keep=False) --> dropped.<step>.<rule> counted; rejected/ row

`filter_document(row, steps)` is the whole stage as a pure function; `Steps` builds the steps once
per worker (the language model is loaded there); transforms/document_stage.py runs them on every
document after cleaning. Which steps a document gets: FiltersConfig.steps_for. A new step is a
Filter subclass with its settings dataclass, an entry in STEPS and a field of FiltersConfig.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import traceback
import typing
from collections import Counter
from dataclasses import dataclass, field
from typing import Sequence

import yaml

from transforms.filters.base import Filter
from transforms.filters.c4 import C4, C4Config
from transforms.filters.code_blocks import split_marked_code
from transforms.filters.fineweb import FineWeb, FineWebConfig
from transforms.filters.gopher_quality import GopherQuality, GopherQualityConfig
from transforms.filters.gopher_repetition import (
    BookRepetition,
    BookRepetitionConfig,
    GopherRepetition,
    GopherRepetitionConfig,
)
from transforms.langid import LanguageConfig, LanguageFilter, LanguageIdentifier
from transforms.pii import PIIConfig, PIIRedaction
from transforms.records import EXCERPT_BYTES, Document, FilterColumns, ReadError, RejectedDocument
from transforms.settings import REFUSED, ConfigError, convert, raise_problems, setting

# Every filter step: its name in the config -> its class, whose `settings` is its section of
# `filters` (thresholds and switches, each documented where the rule applies it).
STEPS: dict[str, type[Filter]] = {
    cls.name: cls
    for cls in (LanguageFilter, GopherQuality, GopherRepetition, BookRepetition, FineWeb, C4, PIIRedaction)
}
_STEP_SPEC_RE = re.compile(r"(\w+)\s*(?:\((.*)\))?")


@dataclass
class SourceSteps:
    source: str = setting("Source name, as in prepare's --input NAME=GLOB.")
    steps: list[str] = setting("The filter steps for its documents, in order (see filters.web).", default_factory=list)


@dataclass
class FiltersConfig:
    web: list[str] = setting(
        "Steps, in order, for web documents of sources not listed in `sources`: HTML pages and records "
        "of WARC/WET/ARC, JSONL and Parquet files. Steps: " + ", ".join(STEPS) + "; a step may "
        "override scalar fields of its section for this list only: 'gopher_quality(max_words=0)'.",
        default_factory=lambda: ["language", "gopher_repetition", "gopher_quality", "fineweb", "c4", "pii"],
    )
    books: list[str] = setting(
        "Steps for books (plain-text files read whole) of sources not listed in `sources`. The web's "
        "line rules would gut a hard-wrapped novel, a novel is often over 100,000 words, and a refrain "
        "is not a web page's repetition (book_repetition; docs/filters.md).",
        default_factory=lambda: ["language", "book_repetition", "gopher_quality(max_words=0)"],
    )
    sources: list[SourceSteps] = setting(
        "Steps per source, overriding web/books: a list of {source: NAME, steps: [...]}; [] runs none.",
        default_factory=list,
    )
    write_rejected: bool = setting(
        "Also write every dropped document with its reason to rejected/*.parquet (textshards inspect rejected).",
        default=False,
    )
    language: LanguageConfig = setting("Language identification (step 'language').", default_factory=LanguageConfig)
    gopher_quality: GopherQualityConfig = setting("Step 'gopher_quality'.", default_factory=GopherQualityConfig)
    gopher_repetition: GopherRepetitionConfig = setting(
        "Step 'gopher_repetition'.", default_factory=GopherRepetitionConfig
    )
    book_repetition: BookRepetitionConfig = setting(
        "Step 'book_repetition': Gopher's repetition rules with thresholds for books.",
        default_factory=BookRepetitionConfig,
    )
    fineweb: FineWebConfig = setting("Step 'fineweb'.", default_factory=FineWebConfig)
    c4: C4Config = setting("Step 'c4'.", default_factory=C4Config)
    pii: PIIConfig = setting("Step 'pii': e-mail and IP address redaction.", default_factory=PIIConfig)

    def problems(self) -> list[str]:
        problems = []
        named = [("filters.web", self.web), ("filters.books", self.books)]
        seen = set()
        for i, item in enumerate(self.sources):
            if not item.source or item.source in seen:
                problems.append(f"filters.sources[{i}].source: {item.source!r} must be a source name, listed once")
            seen.add(item.source)
            named.append((f"filters.sources[{i}].steps", item.steps))
        for name in STEPS:
            section = getattr(self, name)
            if hasattr(section, "problems"):
                problems += section.problems(f"filters.{name}")
        for where, steps in named:
            names = []
            for i, step in enumerate(steps):
                try:
                    names.append(self.step_config(step, f"{where}[{i}]")[0])
                except ConfigError as err:
                    problems += err.problems
            if len(set(names)) != len(names):
                problems.append(f"{where}: {steps!r} names a step twice")
        return problems

    def step_config(self, spec: str, where: str = "filters") -> tuple[str, object]:
        """('gopher_quality', its config section) for spec 'gopher_quality' or, with the section's
        scalar fields overridden and checked, for 'gopher_quality(max_words=0, min_words=20)'; raises
        one ConfigError listing every problem of the spec."""
        match = _STEP_SPEC_RE.fullmatch(spec.strip())
        if not match or match.group(1) not in STEPS:
            raise ConfigError(
                f"{where}: {spec!r} is not a filter step ({', '.join(STEPS)}), "
                "optionally with overrides: step(field=value, ...)"
            )
        name, arguments = match.group(1), match.group(2)
        base = getattr(self, name)
        if not arguments or not arguments.strip():
            return name, base
        hints = typing.get_type_hints(type(base))
        overrides, problems = {}, []
        for argument in arguments.split(","):
            key, equals, value = (part.strip() for part in argument.partition("="))
            if not equals or key not in hints or typing.get_origin(hints[key]) is list:
                problems.append(f"{where}: {spec!r}: {key!r} is not a scalar field of filters.{name}")
                continue
            try:
                parsed = yaml.safe_load(value)
            except yaml.YAMLError:
                parsed = value
            converted = convert(hints[key], parsed, f"{where}: {spec}: {key}", problems)
            if converted is not REFUSED:
                overrides[key] = converted
        section = dataclasses.replace(base, **overrides)
        if hasattr(section, "problems"):  # those its overrides bring: filters.NAME reports the section's own
            label = f"{where}: {spec}"
            problems += [problem for problem in section.problems(label) if problem not in base.problems(label)]
        raise_problems(problems)
        return name, section

    def steps_for(self, source: str, web: bool) -> list[str]:
        """The steps for a document of `source`; `web` says whether it is web text (see `web`)."""
        for item in self.sources:
            if item.source == source:
                return item.steps
        return self.web if web else self.books


# Columns the steps fill; None where no step of the document's source fills them.
STEP_COLUMNS: FilterColumns = {"language": None, "language_score": None}


def is_web_document(row: Document) -> bool:
    """Web text is an HTML page or a record of a WARC/WET/ARC, JSONL or Parquet file;
    a plain-text file read whole is a book. Sources listed in filters.sources override this."""
    return row["kind"] == "html" or row["container"] != "file"


@dataclass
class FilterResult:
    """row: the kept row (text edited, step columns filled), None if dropped; reason: why dropped.
    columns: what the steps measured, even for a dropped document; counts: what they counted."""

    row: Document | None
    reason: str | None = None
    columns: FilterColumns = field(default_factory=FilterColumns)
    counts: Counter[str] = field(default_factory=Counter)


def filter_document(row: Document, steps: Sequence[Filter]) -> FilterResult:
    """Runs `steps` on row["text"] in order; the first step that drops the document ends it.

    When a step edits the text, every step already passed judges its minimum rules again on the
    edited text (Filter.keep_after_edit): C4 removes lines after Gopher's word count has passed.
    Such a drop's reason names the edit: "gopher_quality.word_count_after_c4".

    In a document with marked code blocks the steps see its prose alone, and the kept row has the
    code back in place among the prose lines that survive (transforms/filters/code_blocks.py).
    """
    marked = split_marked_code(row["text"])
    text = marked.prose if marked else row["text"]
    origins: list[int] | None = None  # each line of `text`'s position in the prose; None: the same position
    edited = False  # the prose or the code: the row's text is then put together again
    columns = STEP_COLUMNS.copy()
    counts: Counter[str] = Counter()
    passed: list[Filter] = []
    for step in steps:
        verdict = step.keep(text)
        columns.update(verdict.columns)
        counts.update(verdict.counts)
        if not verdict.keep:
            return FilterResult(None, verdict.reason, columns, counts)
        if marked and step.edits_code:
            redacted = marked.edit_code(functools.partial(_edited_code, step, counts))
            edited |= redacted is not marked
            marked = redacted
        if verdict.text is not None:
            text, edited = verdict.text, True
            if marked and verdict.kept_lines is not None:
                kept = verdict.kept_lines
                origins = list(kept) if origins is None else [origins[line] for line in kept]
            for earlier in passed:
                again = earlier.keep_after_edit(text)
                if not again.keep:
                    return FilterResult(None, f"{again.reason}_after_{step.name}", columns, counts)
        passed.append(step)
    if marked:
        text = marked.with_code(text, origins) if edited else row["text"]
    return FilterResult({**row, **columns, "text": text}, None, columns, counts)


def _edited_code(step: Filter, counts: Counter[str], code: str) -> str:
    """`code` as `step` (one that edits code: Filter.edits_code) edits it; what it did is added to `counts`."""
    verdict = step.keep(code)
    counts.update(verdict.counts)
    return code if verdict.text is None else verdict.text


class Steps:
    """The steps for each document, built on first use and shared: one language model per process."""

    def __init__(self, config: FiltersConfig):
        self._config = config
        self._built: dict[str, Filter] = {}
        self._identifiers: dict[tuple[str, int], LanguageIdentifier] = {}

    def step(self, spec: str) -> Filter:
        """The step a config entry names: 'c4', or 'gopher_quality(max_words=0)'."""
        if spec not in self._built:
            name, section = self._config.step_config(spec)
            if isinstance(section, LanguageConfig):  # 'language' steps share a loaded model where they can
                key = (section.model_path, section.max_chars)
                if key not in self._identifiers:
                    self._identifiers[key] = LanguageIdentifier(*key)
                self._built[spec] = LanguageFilter(section, self._identifiers[key])
            else:
                self._built[spec] = STEPS[name](section)
        return self._built[spec]

    def for_row(self, row: Document) -> list[Filter]:
        return [self.step(spec) for spec in self._config.steps_for(row["source"], is_web_document(row))]

    def build_all(self) -> None:
        """Builds every step any list names: a worker loads its models before its first document."""
        config = self._config
        for spec in config.web + config.books + [spec for item in config.sources for spec in item.steps]:
            self.step(spec)


def rejected_row(row: Document, result: FilterResult) -> RejectedDocument:
    """A dropped document as rejected/ stores it: the text as it entered the stage, and why."""
    assert result.reason is not None, "only a dropped document is rejected"
    return {**row, **result.columns, "reason": result.reason}


def filter_failure(row: Document, err: Exception) -> ReadError:
    """The dead letter of a document whose filter steps raised."""
    path, _, position = row["id"].removeprefix(f"{row['source']}:").rpartition(":")
    return ReadError(
        row["source"],
        path,
        int(position) if position.isdigit() else 0,
        "filter_failed",
        f"{type(err).__name__}: {err} | {traceback.format_exc(limit=-1).strip()}",
        row["text"][:EXCERPT_BYTES].encode("utf-8"),
    )
