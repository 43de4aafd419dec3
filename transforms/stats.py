"""Counting what every stage does, as data.

Each counting DoFn tallies (source, counter) pairs per bundle and emits the
tallies on a `stats` side output when the bundle ends; the pipeline sums them
per key and writes `stats.json`. Counts are data, not only Beam metrics,
because some runners (Dask, for one) report no metrics: every runner then gives
the same stats. Beam metrics mirror the same numbers for the runners' own UIs.

Counter names are dotted: `documents_read`, `bytes_read`, `dropped.<reason>`,
`dead_letter.<error>`, `documents_out`, `bytes_out`.
"""

from __future__ import annotations

import os
import sys
import time
from collections import Counter

import apache_beam as beam
from apache_beam.pvalue import TaggedOutput
from apache_beam.transforms.window import GlobalWindows

STATS_TAG = "stats"
DEAD_LETTER_TAG = "dead_letter"
METRICS_NAMESPACE = "textshards"
PROGRESS_EVERY_SECONDS = 15.0


class CountingDoFn(beam.DoFn):
    """A DoFn that counts per (source, counter) and reports progress.

    Subclasses call `self.count(source, counter, n)` and yield their outputs;
    the tallies leave on the `stats` output at the end of each bundle.
    """

    # Shown in progress lines; subclasses set it to what they process.
    progress_label = "records"

    def setup(self):
        self._progress = (0, 0)  # (items, bytes) processed by this worker
        self._started = self._last_report = time.monotonic()

    def start_bundle(self):
        self._counts: Counter = Counter()

    def count(self, source: str, counter: str, n: int = 1) -> None:
        self._counts[(source, counter)] += n

    def note_progress(self, nbytes: int) -> None:
        """Prints a progress line at most every PROGRESS_EVERY_SECONDS per worker.

        Straight to stderr: runners relay worker logging in their own verbose format,
        and local workers share the driver's terminal.
        """
        items, total = self._progress
        self._progress = items, total = items + 1, total + nbytes
        now = time.monotonic()
        if now - self._last_report >= PROGRESS_EVERY_SECONDS:
            self._last_report = now
            print(f"[textshards] {type(self).__name__} (pid {os.getpid()}): {items} {self.progress_label}, "
                  f"{total / 1e6:.1f} MB, {total / 1e6 / (now - self._started):.2f} MB/s",
                  file=sys.stderr, flush=True)

    def finish_bundle(self):
        for (source, counter), n in sorted(self._counts.items()):
            beam.metrics.Metrics.counter(METRICS_NAMESPACE, f"{source}.{counter}").inc(n)
            yield TaggedOutput(STATS_TAG, GlobalWindows.windowed_value(((source, counter), n)))
        self._counts.clear()


def stats_to_report(totals: list[tuple[tuple[str, str], int]]) -> dict:
    """Nests summed ((source, counter), n) pairs into the stats.json layout.

    {"sources": {source: {"documents_read": n, "dropped": {reason: n}, ...}},
     "totals": {same keys summed over sources}}; keys sorted so the file is deterministic.
    """
    sources: dict[str, dict] = {}
    overall: dict = {}
    for (source, counter), n in sorted(totals):
        for target in (sources.setdefault(source, {}), overall):
            group, _, name = counter.partition(".")
            if name:
                bucket = target.setdefault(group, {})
                bucket[name] = bucket.get(name, 0) + n
            else:
                target[group] = target.get(group, 0) + n
    return {"sources": sources, "totals": overall}
