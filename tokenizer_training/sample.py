"""Drawing the training sample and the held-out slice from the cleaned documents, at any scale.

    docs/*.parquet --bytes per source--> totals --plan--> per-source hash thresholds
          |                                                      |
          +-------------- place each document by hash of its id -+--> held-out slice
          |                                                      +--> candidates --cap at sample_bytes--> sample

A document's place is a pure function of its id (`hash_fraction`, in [0, 1)) and of its
source's plan, so every worker decides alone and the same corpus and config always give the
same sample. Per source, the top of the hash range is held out (never trained on; the report
measures it), and the bottom is the sample, as wide as the byte budget allows:

    0 ------ sample_below ---- draw_below ---------------- heldout_from ------ 1
    | sample (expected size)  | drawn, cut by the cap |   neither           | held out

Budgets follow each source's size times its weight (water-filled: a source smaller than its
share is taken whole and the rest goes to the others). Hash sampling only hits the budget on
average, so more is drawn (OVERDRAW) and a global cap keeps the documents of lowest
rank (hash fraction / sample_below, so the cut trims every source alike) up to sample_bytes.
Only ranks and sizes meet on one worker, never text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Iterable, NamedTuple

import apache_beam as beam
from apache_beam.pvalue import TaggedOutput

from tokenizer_training.bpe import TokenizerConfig
from transforms import outputs
from transforms.sampling import hash_fraction
from transforms.stats import STATS_TAG, CountingDoFn, stats_to_report
from transforms.writers import WriteSortedShards, parquet_bytes, write_file_atomically

HELDOUT_TAG = "heldout"
# Draw half again the budget in expectation, so that the cap, not chance, sets the size even
# where documents are few and large (whole books): a key and a size per extra candidate.
OVERDRAW = 1.5


def text_bytes(row: dict) -> int:
    """Size of a document: bytes of its text in UTF-8."""
    return len(row["text"].encode("utf-8"))


class SourceTotals(NamedTuple):
    """What the plan needs to know of one source."""

    bytes: int
    documents: int
    top_fraction: float  # the highest hash fraction among its documents


def add_totals(parts: Iterable[SourceTotals]) -> SourceTotals:
    """Sums partial totals (a CombinePerKey function: associative and commutative)."""
    parts = list(parts)
    return SourceTotals(
        sum(p.bytes for p in parts), sum(p.documents for p in parts), max(p.top_fraction for p in parts)
    )


def document_totals(row: dict) -> tuple[str, SourceTotals]:
    return row["source"], SourceTotals(text_bytes(row), 1, hash_fraction(row["id"]))


@dataclass(frozen=True)
class SourcePlan:
    """Where one source's documents go, by their hash fraction f.

    sample_below: the sample's expected extent (f < sample_below); ranks are f / sample_below.
    draw_below: candidates for the sample (f < draw_below), before the global byte cap.
    heldout_from: held out for the report (f >= heldout_from).
    """

    sample_below: float
    draw_below: float
    heldout_from: float


def plan_sample(sources: dict[str, SourceTotals], config: TokenizerConfig) -> dict[str, SourcePlan]:
    """Per-source thresholds from each source's totals and the config.

    The held-out slice takes min(heldout_fraction, heldout_bytes / bytes) of each source's hash
    range, and at least its top document where the source has two or more (so that every
    source of a small corpus is measured). Of the rest (the pool), source s gets the extent
    t_s = min(pool_s, lam * weight_s), with lam chosen so that sum(bytes_s * t_s) = sample_bytes,
    or t_s = pool_s for every source where the corpus is smaller than that.
    """
    given = {item.source: item.weight for item in config.source_weights}
    weights = {source: given.get(source, 1.0) for source in sources}
    pools, extents = {}, {}
    for source, counts in sources.items():
        pools[source] = 1.0 - min(config.heldout_fraction, config.heldout_bytes / max(counts.bytes, 1))
        if config.heldout_fraction > 0 and counts.documents >= 2:
            pools[source] = min(pools[source], counts.top_fraction)
        extents[source] = 0.0
    # Water-filling: raise lam until the budget is spent, fixing each source at its pool on the
    # way, in the order in which they fill up.
    active = sorted(
        (s for s in sources if weights[s] > 0 and sources[s].bytes > 0), key=lambda s: (pools[s] / weights[s], s)
    )
    budget = float(config.sample_bytes)
    while active:
        lam = budget / sum(sources[s].bytes * weights[s] for s in active)
        if lam * weights[active[0]] < pools[active[0]]:
            extents.update({s: lam * weights[s] for s in active})
            break
        filled = active.pop(0)
        extents[filled] = pools[filled]
        budget -= sources[filled].bytes * pools[filled]
    return {
        source: SourcePlan(
            sample_below=extents[source],
            draw_below=min(pools[source], extents[source] * OVERDRAW),
            heldout_from=pools[source],
        )
        for source in sources
    }


def sample_rank(fraction: float, plan: SourcePlan) -> float | None:
    """The rank of a sample candidate (lower is drawn first), or None for a non-candidate."""
    return fraction / plan.sample_below if fraction < plan.draw_below else None


def within_budget(entries: Iterable[tuple[tuple[float, str], int]], budget: int) -> list[tuple[tuple[float, str], int]]:
    """The (key, bytes) entries of lowest key whose sizes add up to at most `budget`, sorted.

    Keys are (rank, document id): a total order. A prefix of the union of two inputs is
    within the union of their prefixes, so this also prunes partial results.
    """
    kept, used = [], 0
    for key, size in sorted(entries):
        if used + size > budget:
            break
        kept.append((key, size))
        used += size
    return kept


class CapAtBudget(beam.CombineFn):
    """(key, bytes) of every candidate -> the largest key kept within the budget (None: none).

    Holds a key and a size per candidate, and candidates are about OVERDRAW times the sample:
    memory follows the number of documents in the sample, never their text.
    """

    def __init__(self, budget: int):
        self._budget = budget

    def create_accumulator(self):
        return []

    def add_input(self, accumulator, entry):
        accumulator.append(entry)
        return accumulator

    def merge_accumulators(self, accumulators):
        return within_budget((entry for acc in accumulators for entry in acc), self._budget)

    def extract_output(self, accumulator):
        kept = within_budget(accumulator, self._budget)
        return kept[-1][0] if kept else None


class PlaceDocuments(CountingDoFn):
    """row -> ((rank, id), bytes, row) for a sample candidate; held-out rows on HELDOUT_TAG;
    the rest nowhere. Counts documents and bytes in and held out, per source."""

    progress_label = "documents"

    def process(self, row: dict, plans: dict[str, SourcePlan]):
        size = text_bytes(row)
        self.note_progress(size)
        source = row["source"]
        self.count(source, "documents_in")
        self.count(source, "bytes_in", size)
        fraction = hash_fraction(row["id"])
        plan = plans[source]
        if fraction >= plan.heldout_from:
            self.count(source, "heldout.documents")
            self.count(source, "heldout.bytes", size)
            yield TaggedOutput(HELDOUT_TAG, row)
            return
        rank = sample_rank(fraction, plan)
        if rank is not None:
            yield (rank, row["id"]), size, row


class KeepWithinBudget(CountingDoFn):
    """(key, bytes, row) -> row where key <= the cap's last key; counted as the sample."""

    def process(self, candidate: tuple, last_key):
        key, size, row = candidate
        if last_key is not None and key <= last_key:
            self.count(row["source"], "sample.documents")
            self.count(row["source"], "sample.bytes", size)
            yield row


class DrawSample(beam.PTransform):
    """Reads `docs_pattern` and writes under `staging`: sample/*.parquet, heldout/*.parquet
    (both with the docs' columns) and sample_stats.json (documents and bytes per source: in,
    sample, held out)."""

    def __init__(self, docs_pattern: str, config: TokenizerConfig, staging: str, shard_target_bytes: int):
        super().__init__()
        self._docs_pattern = docs_pattern
        self._config = config
        self._staging = staging
        self._shard_target_bytes = shard_target_bytes

    def expand(self, pbegin):
        rows = pbegin | "Read docs" >> beam.io.ReadFromParquet(self._docs_pattern)
        plans = (
            rows
            | "Measure" >> beam.Map(document_totals)
            | "Totals per source" >> beam.CombinePerKey(add_totals)
            | "Gather totals" >> beam.combiners.ToDict()
            | "Plan" >> beam.Map(plan_sample, self._config)
        )
        placed = rows | "Place by hash" >> beam.ParDo(PlaceDocuments(), beam.pvalue.AsSingleton(plans)).with_outputs(
            STATS_TAG, HELDOUT_TAG, main="candidates"
        )
        last_key = (
            placed.candidates
            | "Rank and size" >> beam.MapTuple(lambda key, size, row: (key, size))
            | "Cap at sample_bytes" >> beam.CombineGlobally(CapAtBudget(self._config.sample_bytes))
        )
        sample = placed.candidates | "Keep within cap" >> beam.ParDo(
            KeepWithinBudget(), beam.pvalue.AsSingleton(last_key)
        ).with_outputs(STATS_TAG, main="rows")
        for name, collection in (("sample", sample.rows), ("heldout", placed[HELDOUT_TAG])):
            _ = collection | f"Write {name}" >> WriteSortedShards(
                directory=outputs.join(self._staging, name),
                suffix="parquet",
                key=lambda row: row["id"],
                size=lambda row: len(row["text"]),
                target_bytes=self._shard_target_bytes,
                encode=parquet_bytes,
            )
        _ = (
            (placed[STATS_TAG], sample[STATS_TAG])
            | "All counts" >> beam.Flatten()
            | "Sum counts" >> beam.CombinePerKey(sum)
            | "Collect counts" >> beam.combiners.ToList()
            | "Write stats" >> beam.Map(self._write_stats)
        )

    def _write_stats(self, totals) -> None:
        data = json.dumps(stats_to_report(totals), indent=2, sort_keys=True).encode("utf-8") + b"\n"
        write_file_atomically(outputs.join(self._staging, "sample_stats.json"), data)
