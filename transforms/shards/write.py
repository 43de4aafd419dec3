"""Writing encoded batches as shards: `{directory}/{split}/shard-NNNNN-of-MMMMM.arrow`.

Token data never crosses a shuffle or a side input: it moves file -> worker -> file through two
intermediate Arrow IPC files per encoded batch under a work directory, and only their names,
shard keys and counts travel between steps:

    (NAME, encoded table) --write work/encoded/NAME.arrow--> (NAME, rows and tokens per split)
        rows and tokens per split --sum--> shards per split (side input)
        NAME --read, split rows by (split, key mod shards), write work/parts/NAME.arrow, one record
             batch per shard--> ((split, index, count), (NAME, record batch))
        + every shard of the count --group by shard--> read its record batches, sort by key, write

So a worker holds one encoded batch (about tokenize.batch_bytes of text) or one shard's rows
(twice over at most while it sorts and writes them), whatever the size of the corpus; the
DirectRunner, which keeps every shuffle and side input in memory, keeps only the small records. The work
directory is deleted once every shard is written.

The shard count of a split follows from its total tokens (a deterministic figure), so it is
known when the first shard is named; every shard of the count is written, an empty one too
(a valid Arrow file with no rows), so the names never lie. Each file, intermediate or shard, has
a name that depends only on the input and is written under a temporary name and renamed
(transforms.writers.write_file_atomically): a retried bundle rewrites the same name with the same
bytes.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from typing import Iterable

import apache_beam as beam
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from apache_beam.io.filesystems import FileSystems

from transforms.shards.arrow import (
    docs_rows,
    in_shuffle_order,
    packed_rows,
    read_ipc_file,
    read_record_batches,
    shard_bytes,
    take,
    to_ipc_file,
)
from transforms.shards.layout import SPLITS, shard_count, shard_name
from transforms.writers import write_file_atomically

ENCODED = "encoded"  # work/encoded/NAME.arrow: a batch as encoded
PARTS = "parts"  # work/parts/NAME.arrow: the same rows, one record batch per shard

# ((split, "rows" | "tokens"), n)
SplitTotal = tuple[tuple[str, str], int]
# (split, index, count): a shard
Shard = tuple[str, int, int]
# (NAME, record batch number in work/parts/NAME.arrow)
Part = tuple[str, int]


def work_file(work: str, kind: str, name: str) -> str:
    return FileSystems.join(work, kind, f"{name}.arrow")


def split_totals(table: pa.Table) -> list[SplitTotal]:
    """((split, "rows" | "tokens"), n) for the splits with rows in an encoded table."""
    totals = []
    for split in SPLITS:
        mask = pc.equal(table.column("split"), split)
        rows = pc.sum(mask).as_py() or 0
        if rows:
            totals += [
                ((split, "rows"), rows),
                ((split, "tokens"), pc.sum(pc.filter(table.column("num_tokens"), mask)).as_py()),
            ]
    return totals


def stage_batch(work: str, name: str, table: pa.Table) -> list[tuple[str, list[SplitTotal]]]:
    """Writes an encoded table to work/encoded/NAME.arrow; returns [(NAME, its split totals)], or
    nothing for a table without rows (every document of the batch weighed 0)."""
    if not table.num_rows:
        return []
    write_file_atomically(work_file(work, ENCODED, name), to_ipc_file([table], table.schema))
    return [(name, split_totals(table))]


def split_by_shard(work: str, name: str, counts: dict[str, int]) -> list[tuple[Shard, Part]]:
    """Reads work/encoded/NAME.arrow and writes its rows to work/parts/NAME.arrow, one record batch
    per shard they fall in (shard key mod the split's count); returns (shard, (NAME, batch number))
    for each of them."""
    with FileSystems.open(work_file(work, ENCODED, name)) as handle:
        table = read_ipc_file(handle)
    splits = table.column("split").to_numpy(zero_copy_only=False)
    keys = table.column("key").to_numpy()
    shards: list[Shard] = []
    groups: list[np.ndarray] = []  # per split: its rows grouped by shard, in batch order within one
    sizes: list[int] = []  # rows per shard
    for split in SPLITS:
        in_split = np.flatnonzero(splits == split)
        if not len(in_split):
            continue
        count = counts[split]
        indices = keys[in_split] % np.uint64(count)
        present, rows = np.unique(indices, return_counts=True)
        shards += [(split, index, count) for index in present.tolist()]
        sizes += rows.tolist()
        groups.append(in_split[np.argsort(indices, kind="stable")])
    # One gather for the whole batch; each shard's rows are then a slice of it, which the IPC
    # writer writes as one record batch.
    grouped = take(table, np.concatenate(groups))
    starts = np.concatenate([[0], np.cumsum(sizes)]).tolist()
    pieces = [grouped.slice(start, size) for start, size in zip(starts, sizes)]
    write_file_atomically(work_file(work, PARTS, name), to_ipc_file(pieces, table.schema))
    return [(shard, (name, number)) for number, shard in enumerate(shards)]


def read_parts(work: str, parts: Iterable[Part]) -> list[pa.Table]:
    """The record batches `parts` name, each file opened once and only those batches read."""
    numbers: dict[str, list[int]] = defaultdict(list)
    for name, number in parts:
        numbers[name].append(number)
    tables = []
    for name in sorted(numbers):
        with FileSystems.open(work_file(work, PARTS, name)) as handle:
            tables += read_record_batches(handle, sorted(numbers[name]))
    return tables


def delete_tree(path: str, after: list | None = None) -> None:
    """Deletes `path` and everything below it; `after`: a side input the deletion waits for."""
    if FileSystems.exists(path):
        FileSystems.delete([path])


class ShardPlan:
    """Shards per split from the split totals (a side input), the same on every worker."""

    def __init__(self, totals: dict, target_tokens: int, window: int):
        self.counts = {
            split: shard_count(totals.get((split, "rows"), 0), totals.get((split, "tokens"), 0), target_tokens, window)
            for split in SPLITS
        }


class WriteShards(beam.PTransform):
    """(NAME, encoded table) pairs -> shard files under `directory`; returns one info dict per shard.

    NAME: unique per batch and the same on every run (it names the batch's files under `work`, a
    directory of its own, deleted at the end). target_tokens: wanted tokens per shard. seq_len:
    None for one row per document, else packed windows of seq_len + 1 tokens. Info: path
    (relative to `directory`), split, index, rows, documents, tokens, tokens_dropped, text_bytes,
    bytes, sha256.
    """

    def __init__(self, directory: str, work: str, dtype: str, target_tokens: int, seq_len: int | None):
        super().__init__()
        self._directory = directory
        self._work = work
        self._dtype = dtype
        self._target_tokens = target_tokens
        self._seq_len = seq_len

    @property
    def _window(self) -> int:
        return self._seq_len + 1 if self._seq_len else 1

    def expand(self, batches):
        staged = batches | "Stage batches" >> beam.FlatMapTuple(self._stage)
        totals = beam.pvalue.AsDict(
            staged
            | "Measure splits" >> beam.FlatMapTuple(lambda _, totals: totals)
            | "Total per split" >> beam.CombinePerKey(sum)
        )
        every_shard = (
            batches.pipeline
            | "Start" >> beam.Create([None])
            | "Name every shard" >> beam.FlatMap(self._every_shard, totals=totals)
        )
        by_shard = staged | "Split by shard" >> beam.FlatMap(self._by_shard, totals=totals)
        written = (
            (by_shard, every_shard)
            | "Parts and empty shards" >> beam.Flatten()
            | "Group by shard" >> beam.GroupByKey()
            | "Read, sort and write" >> beam.MapTuple(self._write)
        )
        _ = (
            batches.pipeline
            | "Work directory" >> beam.Create([self._work])
            | "Delete work files" >> beam.Map(delete_tree, after=beam.pvalue.AsList(written))
        )
        return written

    def _stage(self, name: str, table: pa.Table) -> list[tuple[str, list[SplitTotal]]]:
        return stage_batch(self._work, name, table)

    def _every_shard(self, _, totals: dict):
        for split, count in ShardPlan(totals, self._target_tokens, self._window).counts.items():
            for index in range(count):
                yield (split, index, count), None

    def _by_shard(self, staged: tuple[str, list[SplitTotal]], totals: dict) -> list[tuple[Shard, Part]]:
        name, _ = staged
        return split_by_shard(self._work, name, ShardPlan(totals, self._target_tokens, self._window).counts)

    def _write(self, shard: Shard, parts: Iterable[Part | None]) -> dict:
        split, index, count = shard
        rows = in_shuffle_order(read_parts(self._work, [part for part in parts if part]), self._dtype)
        if self._seq_len:
            table, dropped = packed_rows(rows, self._dtype, self._window)
        else:
            table, dropped = docs_rows(rows, self._dtype), 0
        data = shard_bytes(table)
        path = f"{split}/{shard_name(index, count)}"
        write_file_atomically(FileSystems.join(self._directory, split, shard_name(index, count)), data)
        return {
            "path": path,
            "split": split,
            "index": index,
            "rows": table.num_rows,
            "documents": rows.num_rows,
            "tokens": int(pc.sum(table.column("num_tokens")).as_py() or 0),
            "tokens_dropped": dropped,
            "text_bytes": int(pc.sum(rows.column("text_bytes")).as_py() or 0),
            "bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
        }
