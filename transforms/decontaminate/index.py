"""The n-gram index of the benchmarks: built in Beam into small files, loaded by workers in partitions.

    benchmark files --one worker per file: items, their keys (matching.item_keys)-->
        (bucket, packed (key, item) entries, 200 a element): 256 buckets by the key's top 8 bits
    --group by bucket, sort--> {directory}/bucket-BBB.npy: (key, item) rows, sorted
    bucket sizes --plan--> IndexPlan: partitions, runs of consecutive buckets of at most
        index_memory_bytes each (18 bytes an entry), and the run lengths documents are checked for

Only keys and item references cross the shuffle, never an item's text. A worker process holds
one partition (`PARTITIONS`, shared by its threads): with one partition, it is loaded once and
kept for every document the process checks; with several, a docs file is read once per partition
(transforms/decontaminate/stage.py), and a thread still checking a file against one partition
while another has moved on to the next keeps its own alive until it is done: up to one partition
per thread. A bucket is never split, so one bucket larger than the budget (1/256 of an index
over 256 budgets) is a partition alone, over the budget.
"""

from __future__ import annotations

import io
import logging
import threading
from collections import Counter
from typing import Iterator, NamedTuple

import apache_beam as beam
import numpy as np
from apache_beam.io.filesystems import FileSystems
from apache_beam.pvalue import AsSingleton, TaggedOutput

from transforms.decontaminate.items import BenchmarkFile, item_ref, one_line, read_items
from transforms.decontaminate.matching import Index, item_keys, words_of
from transforms.decontaminate.settings import MIN_MATCHED_WORDS, DecontaminateConfig
from transforms.stats import STATS_TAG, CountingDoFn
from transforms.writers import write_file_atomically

# Per-benchmark counts go to stats.json's stages as "decontaminate": {BENCHMARK: {counter: n}}.
STATS_SOURCE = "(decontaminate)"
BUCKET_SHIFT = np.uint64(56)  # 256 buckets
ENTRY_BYTES = 18  # in a worker: a key and an item reference (uint64), and at most 2 bytes of bit filter
ENTRIES_PER_ELEMENT = 200  # 3.2 KB of (key, item) pairs: an element of the shuffle stays small
_FLUSH_ENTRIES = 1 << 16  # a worker packs its entries by bucket every this many
LENGTHS_TAG = "lengths"
UNREADABLE_TAG = "unreadable_files"  # (benchmark, {"path", "reason"}) of a file that broke off while read


class IndexPlan(NamedTuple):
    """Where the index is and how a worker loads it: small, a side input of the document steps."""

    directory: str
    partitions: tuple[tuple[int, ...], ...]  # the buckets of each partition, in key order
    lengths: tuple[int, ...]  # the run lengths that have keys: ngram, and those of shorter items


def bucket_path(directory: str, bucket: int) -> str:
    return f"{directory}/bucket-{bucket:03d}.npy"


def plan_partitions(sizes: list[tuple[int, int]], budget_bytes: int) -> tuple[tuple[int, ...], ...]:
    """Runs of consecutive buckets ((bucket, entries) pairs) of at most `budget_bytes` each; a
    larger bucket is a partition alone."""
    partitions: list[list[int]] = []
    filled = 0
    for bucket, entries in sorted(sizes):
        size = entries * ENTRY_BYTES
        if not partitions or filled + size > budget_bytes:
            partitions.append([])
            filled = 0
        partitions[-1].append(bucket)
        filled += size
    return tuple(map(tuple, partitions))


def load_partition(plan: IndexPlan, partition: int) -> Index:
    """The index entries of one partition: its buckets' rows, which are in key order one after the
    other, copied into the index's columns bucket by bucket (memory: the index and one bucket)."""
    paths = [bucket_path(plan.directory, bucket) for bucket in plan.partitions[partition]]
    sizes = [_rows_of(path) for path in paths]
    keys, items = np.empty(sum(sizes), np.uint64), np.empty(sum(sizes), np.uint64)
    at = 0
    for path, size in zip(paths, sizes):
        with FileSystems.open(path) as handle:
            entries = np.load(io.BytesIO(handle.read()))
        keys[at : at + size], items[at : at + size] = entries[:, 0], entries[:, 1]
        at += size
    return Index.of_columns(keys, items)


def _rows_of(path: str) -> int:
    """The rows of a bucket file, from its .npy header alone."""
    with FileSystems.open(path) as handle:
        version = np.lib.format.read_magic(handle)
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _, _ = read_header(handle)
    return shape[0]


class PartitionCache:
    """The partition a worker process holds: loaded on first use, kept until another one is
    needed; its threads share it (a DoFn instance per thread would hold a copy each)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._held: tuple[IndexPlan, int] | None = None
        self._index = Index.empty()

    def get(self, plan: IndexPlan, partition: int) -> Index:
        with self._lock:
            if self._held != (plan, partition):
                self._index = Index.empty()  # released before the next is loaded: one in memory at a time
                self._index = load_partition(plan, partition)
                self._held = (plan, partition)
            return self._index

    def order(self, plan: IndexPlan) -> list[int]:
        """The partitions in the order that starts with the one held, if any: one load fewer."""
        order = list(range(len(plan.partitions)))
        return order[::-1] if self._held == (plan, order[-1] if order else -1) else order


PARTITIONS = PartitionCache()  # this process's


class IndexResult(NamedTuple):
    plan: beam.PCollection  # one IndexPlan
    stats: beam.PCollection  # ((STATS_SOURCE, "BENCHMARK.items..."), n)
    unreadable_files: beam.PCollection  # (benchmark, {"path": ..., "reason": ...}) of each file that broke off


class BuildIndex(beam.PTransform):
    """The pipeline (pbegin) -> the IndexPlan of the benchmarks' `files`, the bucket files
    written under `directory`; counts of items per benchmark on `stats`, the files that could not
    be read to their end on `unreadable_files`."""

    def __init__(self, config: DecontaminateConfig, files: list[BenchmarkFile], directory: str):
        super().__init__()
        self._config = config
        self._files = files
        self._directory = directory

    def expand(self, pbegin):
        indexed = (
            pbegin
            | "Benchmark files" >> beam.Create(list(enumerate(self._files)))
            | "Spread benchmark files" >> beam.Reshuffle()
            | "Index items"
            >> beam.ParDo(IndexItems(self._config.ngram, self._config.min_item_words)).with_outputs(
                STATS_TAG, LENGTHS_TAG, UNREADABLE_TAG, main="entries"
            )
        )
        lengths = (
            indexed[LENGTHS_TAG]
            | "Distinct item lengths" >> beam.Distinct()
            | "All item lengths" >> beam.combiners.ToList()
        )
        plan = (
            indexed.entries
            | "Group entries by bucket" >> beam.GroupByKey()
            | "Write buckets" >> beam.Map(write_bucket, self._directory)
            | "All bucket sizes" >> beam.combiners.ToList()
            | "Plan partitions" >> beam.Map(plan_index, AsSingleton(lengths), self._config, self._directory)
        )
        return IndexResult(plan, indexed[STATS_TAG], indexed[UNREADABLE_TAG])


def plan_index(
    sizes: list[tuple[int, int]], lengths: list[int], config: DecontaminateConfig, directory: str
) -> IndexPlan:
    """The plan of an index of `sizes` ((bucket, entries) pairs) whose shorter items have `lengths`."""
    return IndexPlan(
        directory, plan_partitions(sizes, config.index_memory_bytes), tuple(sorted({config.ngram, *lengths}))
    )


class IndexItems(CountingDoFn):
    """(file number, BenchmarkFile) -> (bucket, packed entries) of its items' keys; the lengths of
    its items shorter than ngram on LENGTHS_TAG; per-benchmark item counts on the stats output. A
    file that cannot be read to its end keeps the items read before, is counted as
    files_unreadable, and goes with its reason to UNREADABLE_TAG: bad input never fails the job."""

    def __init__(self, ngram: int, min_item_words: int):
        self._ngram = ngram
        self._min_item_words = min_item_words

    def process(self, numbered: tuple[int, BenchmarkFile]):
        number, file = numbered
        counts: Counter[str] = Counter()
        keys: list[np.ndarray] = []
        refs: list[np.ndarray] = []
        pending = 0
        short_lengths: set[int] = set()
        broke_off: list[str] = []
        for row, text in _readable_items(file, broke_off):
            counts["items"] += 1
            if text is None:
                counts["items_unreadable"] += 1
                continue
            words = words_of(text)
            counts["items_short"] += len(words) < self._min_item_words
            if len(words) < MIN_MATCHED_WORDS:
                counts["items_skipped"] += 1
                continue
            if len(words) < self._ngram:
                short_lengths.add(len(words))
            item = item_keys(words, self._ngram)
            keys.append(item)
            refs.append(np.full(len(item), item_ref(number, row), dtype=np.uint64))
            pending += len(item)
            if pending >= _FLUSH_ENTRIES:
                yield from _by_bucket(np.concatenate(keys), np.concatenate(refs))
                keys, refs, pending = [], [], 0
        if keys:
            yield from _by_bucket(np.concatenate(keys), np.concatenate(refs))
        for length in sorted(short_lengths):
            yield TaggedOutput(LENGTHS_TAG, length)
        for reason in broke_off:
            counts["files_unreadable"] += 1
            yield TaggedOutput(UNREADABLE_TAG, (file.benchmark, {"path": file.path, "reason": reason}))
        for counter, n in sorted(counts.items()):
            self.count(STATS_SOURCE, f"{file.benchmark}.{counter}", n)


def _readable_items(file: BenchmarkFile, broke_off: list[str]) -> Iterator[tuple[int, str | None]]:
    """read_items(file), ended where the file cannot be read on: why, with the items read before
    (which are indexed), appended to `broke_off` and logged."""
    items = 0
    try:
        for item in read_items(file):
            yield item
            items += 1
    except Exception as err:  # the filesystem's, a decompressor's or pyarrow's reason, whatever its type
        broke_off.append(f"unreadable after {items} items: {one_line(err)}")
        logging.warning("decontaminate: benchmark %s: %s is %s", file.benchmark, file.path, broke_off[-1])


def _by_bucket(keys: np.ndarray, refs: np.ndarray) -> Iterator[tuple[int, bytes]]:
    """(bucket, bytes of up to ENTRIES_PER_ELEMENT (key, item) rows) for the entries given."""
    entries = np.stack([keys, refs], axis=1)
    buckets = keys >> BUCKET_SHIFT
    order = np.argsort(buckets, kind="stable")
    entries, buckets = entries[order], buckets[order]
    starts = np.flatnonzero(np.r_[True, buckets[1:] != buckets[:-1]]).tolist() + [len(buckets)]
    for begin, end in zip(starts[:-1], starts[1:]):
        for at in range(begin, end, ENTRIES_PER_ELEMENT):
            yield int(buckets[begin]), entries[at : min(at + ENTRIES_PER_ELEMENT, end)].tobytes()


def write_bucket(grouped: tuple[int, list[bytes]], directory: str) -> tuple[int, int]:
    """Writes a bucket's entries, sorted by key then item, each once; returns (bucket, entries)."""
    bucket, chunks = grouped
    entries = np.concatenate([np.frombuffer(chunk, dtype=np.uint64).reshape(-1, 2) for chunk in chunks])
    entries = entries[np.lexsort((entries[:, 1], entries[:, 0]))]
    entries = entries[np.r_[True, np.any(entries[1:] != entries[:-1], axis=1)]]
    data = io.BytesIO()
    np.save(data, entries)
    write_file_atomically(bucket_path(directory, bucket), data.getvalue())
    return bucket, len(entries)
