"""Writing encoded batches as shards: `{directory}/{split}/shard-NNNNN-of-MMMMM.arrow`.

    encoded batches --rows and tokens per split--> totals (side input) --> shards per split
          |                                                                   |
          +--split each batch by (split, key mod shards)----------------------+--> group by shard
                                                                                    --> sort by key, write

The shard count of a split follows from its total tokens (a deterministic figure), so it is
known when the first shard is named; every shard of the count is written, an empty one too
(a valid Arrow file with no rows), so the names never lie. Each file is written under a
temporary name and renamed (transforms.writers.write_file_atomically); a retried bundle rewrites
the same name with the same bytes.
"""

from __future__ import annotations

import hashlib
from typing import Iterable

import apache_beam as beam
import numpy as np
import pyarrow.compute as pc
from apache_beam.io.filesystems import FileSystems

from transforms.shards.arrow import docs_rows, from_ipc, in_shuffle_order, packed_rows, shard_bytes, take, to_ipc
from transforms.shards.layout import SPLITS, shard_count, shard_name
from transforms.writers import write_file_atomically


def split_totals(batch: bytes) -> Iterable[tuple[tuple[str, str], int]]:
    """((split, "rows" | "tokens"), n) for one encoded batch."""
    table = from_ipc(batch)
    for split in SPLITS:
        mask = pc.equal(table.column("split"), split)
        rows = pc.sum(mask).as_py() or 0
        if rows:
            yield (split, "rows"), rows
            yield (split, "tokens"), pc.sum(pc.filter(table.column("num_tokens"), mask)).as_py()


class ShardPlan:
    """Shards per split from the split totals (a side input), the same on every worker."""

    def __init__(self, totals: dict, target_tokens: int, window: int):
        self.counts = {
            split: shard_count(totals.get((split, "rows"), 0), totals.get((split, "tokens"), 0), target_tokens, window)
            for split in SPLITS
        }


class WriteShards(beam.PTransform):
    """Encoded IPC batches -> shard files under `directory`; returns one info dict per shard.

    target_tokens: wanted tokens per shard. seq_len: None for one row per document, else packed
    windows of seq_len + 1 tokens. Info: path (relative to `directory`), split, index, rows,
    documents, tokens, tokens_dropped, text_bytes, bytes, sha256.
    """

    def __init__(self, directory: str, dtype: str, target_tokens: int, seq_len: int | None):
        super().__init__()
        self._directory = directory
        self._dtype = dtype
        self._target_tokens = target_tokens
        self._seq_len = seq_len

    @property
    def _window(self) -> int:
        return self._seq_len + 1 if self._seq_len else 1

    def expand(self, batches):
        totals = beam.pvalue.AsDict(
            batches | "Measure splits" >> beam.FlatMap(split_totals) | "Total per split" >> beam.CombinePerKey(sum)
        )
        every_shard = (
            batches.pipeline
            | "Start" >> beam.Create([None])
            | "Name every shard" >> beam.FlatMap(self._every_shard, totals=totals)
        )
        by_shard = batches | "Split by shard" >> beam.FlatMap(self._by_shard, totals=totals)
        return (
            (by_shard, every_shard)
            | "Rows and empty shards" >> beam.Flatten()
            | "Group by shard" >> beam.GroupByKey()
            | "Sort and write" >> beam.MapTuple(self._write)
        )

    def _every_shard(self, _, totals: dict):
        for split, count in ShardPlan(totals, self._target_tokens, self._window).counts.items():
            for index in range(count):
                yield (split, index, count), b""

    def _by_shard(self, batch: bytes, totals: dict):
        counts = ShardPlan(totals, self._target_tokens, self._window).counts
        table = from_ipc(batch)
        splits = table.column("split").to_numpy(zero_copy_only=False)
        keys = table.column("key").to_numpy()
        for split in SPLITS:
            in_split = np.flatnonzero(splits == split)
            if not len(in_split):
                continue
            count = counts[split]
            shards = keys[in_split] % np.uint64(count)
            for index in np.unique(shards).tolist():
                rows = in_split[shards == index]
                yield (split, index, count), to_ipc(take(table, rows))

    def _write(self, shard: tuple[str, int, int], parts: Iterable[bytes]) -> dict:
        split, index, count = shard
        rows = in_shuffle_order([from_ipc(part) for part in parts if part], self._dtype)
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
