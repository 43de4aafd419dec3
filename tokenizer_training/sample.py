"""Drawing the training sample and the held-out slice from the cleaned documents, at any scale.

    docs files --per file: ids, sources, text sizes--> totals per source --plan--> per-source hash thresholds
    docs files --per file: (rank, id) and size of each candidate--> cap at sample_bytes --> the last key kept
    docs files --per file, with the plan and the last key--> sample/FILE, heldout/FILE, counts

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

Text never crosses a shuffle or a side input: those carry file names, per-source totals, the
plans, and a (rank, id) key and a size per candidate. Each docs file is read three times, batch
by batch, by whichever worker holds its name; the last pass writes that file's sample and
held-out rows to files of its own (named after it), so a worker's memory follows one batch,
whatever the corpus.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Iterable, Iterator, NamedTuple

import apache_beam as beam
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems

from tokenizer_training.bpe import TokenizerConfig
from transforms import outputs
from transforms.progress import ProgressReport, progress_directory
from transforms.readers import streamed_parquet
from transforms.sampling import hash_fraction
from transforms.stats import STATS_TAG, CountingDoFn, stats_to_report
from transforms.writers import write_file_atomically

SAMPLE, HELDOUT = "sample", "heldout"  # the directories under staging, one file per docs file in each
# Draw half again the budget in expectation, so that the cap, not chance, sets the size even
# where documents are few and large (whole books): a key and a size per extra candidate.
OVERDRAW = 1.5
SAMPLE_PASSES = 3  # DrawSample reads each docs file this many times (its progress counts every pass)
# Rows per batch read from a docs file: 64 documents in memory at a time (64 MB of whole books).
READ_ROWS = 64


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
    """One document's part of its source's totals (row: id, source, text); `file_totals` sums the
    same per docs file without holding text."""
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


def sized_batches(
    path: str, progress: ProgressReport, columns: list[str] | None = None
) -> Iterator[tuple[pa.RecordBatch, list[int]]]:
    """A docs file, batch by batch: (batch of `columns`, all where None; the UTF-8 size of each
    row's text). The text column is read for its sizes even where `columns` leaves it out.
    Reports its reading on `progress` (each of the three passes over the docs does)."""
    with FileSystems.open(path) as handle:
        reading = progress.whole_file(handle)
        parquet = streamed_parquet(handle)
        wanted = parquet.schema_arrow.names if columns is None else columns
        read = wanted if "text" in wanted else [*wanted, "text"]
        batches = parquet.iter_batches(batch_size=READ_ROWS, columns=read)
        for batch in reading.of_batches(batches, parquet.metadata.num_rows):
            sizes = pc.binary_length(batch.column("text")).to_pylist()
            yield (batch if read == wanted else batch.select(wanted)), sizes


def documents(path: str, progress: ProgressReport) -> Iterator[tuple[str, str, int]]:
    """(id, source, bytes of text) of every document of a docs file, in file order; no text kept."""
    for batch, sizes in sized_batches(path, progress, ["id", "source"]):
        yield from zip(batch.column("id").to_pylist(), batch.column("source").to_pylist(), sizes)


def docs_text_bytes(files: list[str], enough: int) -> int:
    """About the bytes of text in the docs `files`, from their Parquet footers (the text column's
    size before compression: its UTF-8 bytes and a few bytes per document), summed file by file
    until above `enough`: a footer read per file, and no more files than that takes."""
    total = 0
    for path in files:
        with FileSystems.open(path) as handle:
            metadata = pq.ParquetFile(handle).metadata
        text = metadata.schema.names.index("text")
        total += sum(metadata.row_group(g).column(text).total_uncompressed_size for g in range(metadata.num_row_groups))
        if total > enough:
            break
    return total


def file_totals(path: str, progress: ProgressReport) -> Iterator[tuple[str, SourceTotals]]:
    """(source, SourceTotals) of one docs file, one per source in it."""
    totals: dict[str, list] = {}
    for doc_id, source, size in documents(path, progress):
        tally = totals.setdefault(source, [0, 0, 0.0])
        tally[0] += size
        tally[1] += 1
        tally[2] = max(tally[2], hash_fraction(doc_id))
    for source, (size, count, top) in sorted(totals.items()):
        yield source, SourceTotals(size, count, top)


def file_candidates(
    path: str, progress: ProgressReport, plans: dict[str, SourcePlan]
) -> Iterator[tuple[tuple[float, str], int]]:
    """((rank, id), bytes) of each sample candidate of one docs file (none is held out: a plan's
    draw_below is at most its heldout_from)."""
    for doc_id, source, size in documents(path, progress):
        rank = sample_rank(hash_fraction(doc_id), plans[source])
        if rank is not None:
            yield (rank, doc_id), size


class _ParquetParts:
    """A Parquet file written batch by batch under a temporary name, created with its first batch and
    renamed into place by close(); nothing is written where no batch has rows."""

    def __init__(self, path: str, schema: pa.Schema):
        self._path, self._schema = path, schema
        self._temp = f"{path}.tmp-{uuid.uuid4().hex}"
        self._handle = self._writer = None

    def write(self, batch: pa.RecordBatch) -> None:
        if not batch.num_rows:
            return
        if self._writer is None:
            self._handle = FileSystems.create(self._temp)
            self._writer = pq.ParquetWriter(self._handle, self._schema, compression="zstd")
        self._writer.write_batch(batch)

    def close(self) -> None:
        if self._writer is None:
            return
        self._writer.close()
        self._handle.close()
        if FileSystems.exists(self._path):  # a retried bundle wrote it before
            FileSystems.delete([self._path])
        FileSystems.rename([self._temp], [self._path])


def file_name(path: str) -> str:
    """The name a docs file's sample and held-out parts take: the docs file's own (unique in DIR/docs)."""
    return path.rstrip("/").rsplit("/", 1)[-1]


class WriteSampleFiles(CountingDoFn):
    """docs file -> its sample rows to STAGING/sample/NAME and its held-out rows to
    STAGING/heldout/NAME (NAME: the docs file's; its columns, in its order), batch by batch; no
    file where there are no such rows. Counts documents and bytes in, sampled and held out, per
    source. Emits nothing: the rows go from the file read to the files written."""

    def __init__(self, staging: str, progress: ProgressReport):
        super().__init__()
        self._staging = staging
        self._progress = progress

    def process(self, path: str, plans: dict[str, SourcePlan], last_key):
        parts: dict[str, _ParquetParts] = {}
        for batch, sizes in sized_batches(path, self._progress):
            if not parts:
                parts = {
                    name: _ParquetParts(outputs.join(self._staging, name, file_name(path)), batch.schema)
                    for name in (SAMPLE, HELDOUT)
                }
            places = [
                self._place(doc_id, source, size, plans[source], last_key)
                for doc_id, source, size in zip(
                    batch.column("id").to_pylist(), batch.column("source").to_pylist(), sizes
                )
            ]
            for name, part in parts.items():
                part.write(batch.filter(pa.array([place == name for place in places])))
        for part in parts.values():
            part.close()
        return []

    def _place(self, doc_id: str, source: str, size: int, plan: SourcePlan, last_key) -> str | None:
        """SAMPLE, HELDOUT or None (neither), counted."""
        self.count(source, "documents_in")
        self.count(source, "bytes_in", size)
        fraction = hash_fraction(doc_id)
        if fraction >= plan.heldout_from:
            self.count(source, "heldout.documents")
            self.count(source, "heldout.bytes", size)
            return HELDOUT
        rank = sample_rank(fraction, plan)
        if rank is not None and last_key is not None and (rank, doc_id) <= last_key:
            self.count(source, "sample.documents")
            self.count(source, "sample.bytes", size)
            return SAMPLE
        return None


class DrawSample(beam.PTransform):
    """Reads the docs `files` (prepare's DIR/docs/*.parquet) and writes under `staging`:
    sample/*.parquet and heldout/*.parquet (a file per docs file with such rows, its columns), and
    sample_stats.json (documents and bytes per source: in, sample, held out)."""

    def __init__(self, files: list[str], config: TokenizerConfig, staging: str):
        super().__init__()
        self._files = sorted(files)
        self._config = config
        self._staging = staging

    def expand(self, pbegin):
        progress = ProgressReport(progress_directory(self._staging))
        files = pbegin | "Docs files" >> beam.Create(self._files) | "Spread files" >> beam.Reshuffle()
        plans = beam.pvalue.AsSingleton(
            files
            | "Measure files" >> beam.FlatMap(file_totals, progress)
            | "Totals per source" >> beam.CombinePerKey(add_totals)
            | "Gather totals" >> beam.combiners.ToDict()
            | "Plan" >> beam.Map(plan_sample, self._config)
        )
        last_key = beam.pvalue.AsSingleton(
            files
            | "Rank candidates" >> beam.FlatMap(file_candidates, progress, plans)
            | "Cap at sample_bytes" >> beam.CombineGlobally(CapAtBudget(self._config.sample_bytes))
        )
        written = files | "Write sample and held-out" >> beam.ParDo(
            WriteSampleFiles(self._staging, progress), plans, last_key
        ).with_outputs(STATS_TAG, main="nothing")
        _ = (
            written[STATS_TAG]
            | "Sum counts" >> beam.CombinePerKey(sum)
            | "Collect counts" >> beam.combiners.ToList()
            | "Write stats" >> beam.Map(self._write_stats)
        )

    def _write_stats(self, totals) -> None:
        data = json.dumps(stats_to_report(totals), indent=2, sort_keys=True).encode("utf-8") + b"\n"
        write_file_atomically(outputs.join(self._staging, "sample_stats.json"), data)
