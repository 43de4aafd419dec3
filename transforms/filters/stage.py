"""The filter stage: each source's documents go through its list of steps, in order.

    cleaned row --steps of its source: language, gopher_*, fineweb, c4, pii--> kept row
                     |
                     +-- first Verdict(keep=False) --> dropped.<step>.<rule> counted; rejected/ row

`filter_document(row, steps)` is the whole stage as a pure function; `FilterDocuments` is the
DoFn around it that builds the steps once per worker (the language model is loaded there),
counts and routes. Which steps a document gets: pipeline/config.FiltersConfig.steps_for.
"""

from __future__ import annotations

import traceback
from collections import Counter
from dataclasses import dataclass, field
from typing import Sequence

from apache_beam.pvalue import TaggedOutput

from pipeline.config import FiltersConfig
from transforms.filters.base import Filter
from transforms.filters.c4 import C4
from transforms.filters.fineweb import FineWeb
from transforms.filters.gopher_quality import GopherQuality
from transforms.filters.gopher_repetition import GopherRepetition
from transforms.langid import LanguageFilter, LanguageIdentifier
from transforms.pii import PIIRedaction
from transforms.records import EXCERPT_BYTES, ReadError
from transforms.stats import DEAD_LETTER_TAG, CountingDoFn

REJECTED_TAG = "rejected"
STEP_CLASSES: dict[str, type[Filter]] = {
    cls.name: cls for cls in (LanguageFilter, GopherQuality, GopherRepetition, FineWeb, C4, PIIRedaction)
}
# Columns the steps fill; None where no step of the document's source fills them.
STEP_COLUMNS = {"language": None, "language_score": None}


def is_web_document(row: dict) -> bool:
    """Web text is an HTML page or a record of a WARC/WET/ARC, JSONL or Parquet file;
    a plain-text file read whole is a book. Sources listed in filters.sources override this."""
    return row["kind"] == "html" or row["container"] != "file"


@dataclass
class FilterResult:
    """row: the kept row (text edited, step columns filled), None if dropped; reason: why dropped.
    columns: what the steps measured, even for a dropped document; counts: what they counted."""

    row: dict | None
    reason: str | None = None
    columns: dict = field(default_factory=dict)
    counts: Counter = field(default_factory=Counter)


def filter_document(row: dict, steps: Sequence[Filter]) -> FilterResult:
    """Runs `steps` on row["text"] in order; the first step that drops the document ends it."""
    text = row["text"]
    columns = dict(STEP_COLUMNS)
    counts: Counter = Counter()
    for step in steps:
        verdict = step.keep(text)
        columns.update(verdict.columns)
        counts.update(verdict.counts)
        if not verdict.keep:
            return FilterResult(None, verdict.reason, columns, counts)
        if verdict.text is not None:
            text = verdict.text
    return FilterResult({**row, **columns, "text": text}, None, columns, counts)


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
            if name == "language":
                key = (section.model_path, section.max_chars)
                if key not in self._identifiers:
                    self._identifiers[key] = LanguageIdentifier(*key)
                self._built[spec] = LanguageFilter(section, self._identifiers[key])
            else:
                self._built[spec] = STEP_CLASSES[name](section)
        return self._built[spec]

    def for_row(self, row: dict) -> list[Filter]:
        return [self.step(spec) for spec in self._config.steps_for(row["source"], is_web_document(row))]

    def build_all(self) -> None:
        """Builds every step any list names: a worker loads its models before its first document."""
        config = self._config
        for spec in config.web + config.books + [spec for item in config.sources for spec in item.steps]:
            self.step(spec)


def rejected_row(row: dict, result: FilterResult) -> dict:
    """A dropped document as rejected/ stores it: the text as it entered the stage, and why."""
    return {**row, **result.columns, "reason": result.reason}


class FilterDocuments(CountingDoFn):
    """Cleaned row -> kept row; drops counted (and sent to the rejected output if asked)."""

    progress_label = "documents"

    def __init__(self, config: FiltersConfig):
        self._config = config

    def setup(self):
        super().setup()
        self._steps = Steps(self._config)
        self._steps.build_all()

    def process(self, row: dict):
        source = row["source"]
        try:
            result = filter_document(row, self._steps.for_row(row))
        except Exception as err:  # a defect in one document must not end the job
            self.count(source, "dead_letter.filter_failed")
            yield TaggedOutput(DEAD_LETTER_TAG, _failure(row, err))
            return
        finally:
            self.note_progress(len(row["text"].encode("utf-8")))
        for counter, n in sorted(result.counts.items()):
            self.count(source, counter, n)
        if result.row is None:
            self.count(source, f"dropped.{result.reason}")
            if self._config.write_rejected:
                yield TaggedOutput(REJECTED_TAG, rejected_row(row, result))
            return
        self.count(source, "documents_after_filter")
        self.count(source, "bytes_after_filter", len(result.row["text"].encode("utf-8")))
        yield result.row


def _failure(row: dict, err: Exception) -> ReadError:
    path, _, position = row["id"].removeprefix(f"{row['source']}:").rpartition(":")
    return ReadError(
        row["source"],
        path,
        int(position) if position.isdigit() else 0,
        "filter_failed",
        f"{type(err).__name__}: {err} | {traceback.format_exc(limit=-1).strip()}",
        row["text"][:EXCERPT_BYTES].encode("utf-8"),
    )
