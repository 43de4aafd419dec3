"""Counting what every stage does, as data.

Each counting DoFn tallies (source, counter) pairs per bundle and emits the
tallies on a `stats` side output when the bundle ends; the pipeline sums them
per key and writes `stats.json`. Counts are data, not only Beam metrics,
because whether and how a runner reports metrics is up to the runner: every runner
then gives the same stats. Beam metrics mirror the same numbers for the runners' own UIs.

Counter names are dotted; stats.json nests them at the first dot only, so a reason keeps
its own dots: `dropped.gopher_quality.symbol_ratio` is {"dropped": {"gopher_quality.symbol_ratio": n}}.
  documents_read, bytes_read             what the readers produced
  documents_after_<step>, bytes_after_<step>   what is left after each step (FUNNEL, in order;
                                         decontaminate only where there are benchmarks)
  documents_out, bytes_out               what was written to docs/
  dropped.<reason>                       <reason> is "<step>.<rule>" for the filters; "contaminated"
  changed.contaminated                   documents redacted for holding a benchmark item
  dead_letter.<error>                    records that could not be read or processed
  lines_removed.<step>.<why>, pii.<kind>  what editing steps changed inside kept documents
  files                                  input files matched
  skipped.<why>                          WARC records that hold no document (not counted as read)
"""

from __future__ import annotations

from collections import Counter

import apache_beam as beam
from apache_beam.pvalue import TaggedOutput
from apache_beam.transforms.window import GlobalWindows

from transforms.records import Document

STATS_TAG = "stats"
# The funnel, in pipeline order: (step, documents counter, bytes counter). Bytes are the raw
# documents' bytes for "read" (as stored, before decoding), the UTF-8 text's after that.
FUNNEL = (
    ("read", "documents_read", "bytes_read"),
    ("clean", "documents_after_clean", "bytes_after_clean"),
    ("filter", "documents_after_filter", "bytes_after_filter"),
    ("decontaminate", "documents_after_decontaminate", "bytes_after_decontaminate"),
    ("dedup", "documents_out", "bytes_out"),
)


def funnel_steps(counts: dict) -> list[tuple[str, str, str]]:
    """The FUNNEL steps a run's counts (stats.json's totals) have: read and the output always,
    the others where the run counted them (decontaminate only with benchmarks)."""
    return [step for step in FUNNEL if step[0] in ("read", "dedup") or step[1] in counts]


DEAD_LETTER_TAG = "dead_letter"
METRICS_NAMESPACE = "textshards"


class CountingDoFn(beam.DoFn):
    """A DoFn that counts per (source, counter).

    Subclasses call `self.count(source, counter, n)` and yield their outputs;
    the tallies leave on the `stats` output at the end of each bundle.
    """

    def start_bundle(self):
        self._counts: Counter = Counter()

    def count(self, source: str, counter: str, n: int = 1) -> None:
        self._counts[(source, counter)] += n

    def finish_bundle(self):
        for (source, counter), n in sorted(self._counts.items()):
            beam.metrics.Metrics.counter(METRICS_NAMESPACE, f"{source}.{counter}").inc(n)
            yield TaggedOutput(STATS_TAG, GlobalWindows.windowed_value(((source, counter), n)))
        self._counts.clear()


class CountOutput(CountingDoFn):
    """Counts the rows about to be written (documents_out, bytes_out) and passes them on."""

    def process(self, row: Document):
        self.count(row["source"], "documents_out")
        self.count(row["source"], "bytes_out", len(row["text"].encode("utf-8")))
        yield row


def stats_to_report(totals: list[tuple[tuple[str, str], int]]) -> dict:
    """Nests summed ((source, counter), n) pairs into the stats.json layout.

    {"sources": {source: {"documents_read": n, "dropped": {reason: n}, ...}},
     "totals": {same keys summed over sources},
     "stages": {stage: {...}}}; keys sorted so the file is deterministic.
    A "source" in parentheses, e.g. "(dedup graph)", holds a stage's own counts (LSH buckets,
    component rounds): they go under "stages", not into the per-source funnel or the totals.
    """
    sources: dict[str, dict] = {}
    stages: dict[str, dict] = {}
    overall: dict = {}
    for (source, counter), n in sorted(totals):
        targets: tuple[dict, ...]  # the stage's own counts, or the source's and the totals
        if source.startswith("("):
            targets = (stages.setdefault(source.strip("()"), {}),)
        else:
            targets = (sources.setdefault(source, {}), overall)
        for target in targets:
            group, _, name = counter.partition(".")
            if name:
                bucket = target.setdefault(group, {})
                bucket[name] = bucket.get(name, 0) + n
            else:
                target[group] = target.get(group, 0) + n
    return {"sources": sources, "totals": overall, "stages": stages}
