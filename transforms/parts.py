"""Part files: where documents rest between the per-document stage and the final shards.

A worker that reads a part of the input (a batch of small files, or a range of a large one) writes
what it kept, what it rejected and its dead letters to part files of its own, named after the
part, under the run's staging directory. From there on only references cross a shuffle:

    part files --plan (order key, path, bytes of every part; small)--> shard of each part
        removed rows of each part (path, row, reason; small) --group by shard, with its parts-->
            read each part once, drop its removed rows, append --> {directory}/part-NNNNN.{suffix}

The order of the output is the order of the parts (source, input file, position within it), and
the shards are runs of consecutive parts of about `target_bytes`: both follow from the plan
alone, so the same parts give the same files on every runner without a sort of the text.
Memory per worker is one row group (PART_ROW_GROUP_BYTES) plus the removed rows of one shard.

Every file is written under a temporary name and renamed when complete; a retried bundle writes
the same bytes again.
"""

from __future__ import annotations

import uuid
from typing import Any, BinaryIO, Iterable, Iterator, Mapping, NamedTuple, Sequence

import apache_beam as beam
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems

from transforms.stats import STATS_TAG, CountingDoFn
from transforms.writers import jsonl_bytes

# A row group of a part file holds about this much text: the unit a reader holds in memory.
PART_ROW_GROUP_BYTES = 8 * 1024 * 1024


class PartFile(NamedTuple):
    """A reference to one part file: what crosses a shuffle instead of its rows."""

    order: tuple  # where its rows belong in the output: (source, path below the input's root, start)
    path: str
    bytes: int  # text bytes (Parquet) or file bytes (JSONL): for sizing the shards
    rows: int = 0  # for sizing dedup's groups (0 where unknown: one group)


class RemovedRow(NamedTuple):
    """A row of a part file that must not reach the output, and the stats counter that says why."""

    part: str  # the part file's path
    row: int  # its index in the part file
    counter: str  # e.g. "dropped.near_duplicate"


def _temporary(path: str) -> str:
    return f"{path}.tmp-{uuid.uuid4().hex}"


def _replace(temp: str, path: str) -> None:
    if FileSystems.exists(path):  # a retried bundle wrote it before
        FileSystems.delete([path])
    FileSystems.rename([temp], [path])


class ParquetPartWriter:
    """Rows appended one at a time, or as tables, written in row groups that each end at the first
    row that brings them to PART_ROW_GROUP_BYTES of text: where a row group ends depends on the
    rows alone, not on how they were handed over. The file appears under `path` only on close();
    nothing is created for a writer that got no row."""

    def __init__(self, path: str, schema: pa.Schema):
        self.path = path
        self.rows = 0
        self.text_bytes = 0
        self._schema = schema
        self._rows: list[Mapping[str, Any]] = []  # appended rows not yet in a table
        self._tables: list[pa.Table] = []  # the row group being filled, in order, after them
        self._pending_bytes = 0
        self._temp: str | None = None
        self._handle: BinaryIO | None = None
        self._writer: pq.ParquetWriter | None = None

    def append(self, row: Mapping[str, Any]) -> None:
        size = len(row["text"].encode("utf-8"))
        self._rows.append(row)
        self._pending_bytes += size
        self.text_bytes += size
        self.rows += 1
        if self._pending_bytes >= PART_ROW_GROUP_BYTES:
            self._flush()

    def append_table(self, table: pa.Table) -> None:
        """Whole rows at once (of this writer's schema)."""
        self._rows_to_table()
        ends = np.cumsum(pc.binary_length(table.column("text")).to_numpy(zero_copy_only=False), dtype=np.int64)
        self.rows += table.num_rows
        self.text_bytes += int(ends[-1]) if len(ends) else 0
        start, before = 0, 0
        while start < table.num_rows:
            last = int(np.searchsorted(ends, before + PART_ROW_GROUP_BYTES - self._pending_bytes))  # fills the group
            if last >= table.num_rows:
                self._tables.append(table.slice(start))
                self._pending_bytes += int(ends[-1]) - before
                return
            self._tables.append(table.slice(start, last + 1 - start))
            self._flush()
            start, before = last + 1, int(ends[last])

    def _rows_to_table(self) -> None:
        if self._rows:
            self._tables.append(pa.Table.from_pylist(self._rows, schema=self._schema))
            self._rows = []

    def _open(self) -> pq.ParquetWriter:
        if self._writer is None:
            self._temp = _temporary(self.path)
            self._handle = FileSystems.create(self._temp)
            self._writer = pq.ParquetWriter(self._handle, self._schema, compression="zstd")
        return self._writer

    def _flush(self) -> None:
        self._rows_to_table()
        if self._tables:
            table = pa.concat_tables(self._tables).combine_chunks()  # the same pages however it was built
            self._open().write_table(table, row_group_size=table.num_rows)
            self._tables, self._pending_bytes = [], 0

    def close(self, empty_file: bool = False) -> PartFile | None:
        """Completes the file; its reference (order left empty), or None where no row was written
        (and no file, unless empty_file)."""
        self._flush()
        if self._writer is None and not empty_file:
            return None
        self._open()
        assert self._writer is not None and self._handle is not None and self._temp is not None
        self._writer.close()
        self._handle.close()
        _replace(self._temp, self.path)
        return PartFile((), self.path, self.text_bytes, self.rows)


class JsonlPartWriter:
    """Dicts appended one at a time, as JSON lines; the file appears only on close()."""

    def __init__(self, path: str):
        self.path = path
        self._lines: list[Mapping[str, Any]] = []

    def append(self, row: Mapping[str, Any]) -> None:
        self._lines.append(row)

    def close(self) -> PartFile | None:
        if not self._lines:
            return None
        data = jsonl_bytes(self._lines)
        temp = _temporary(self.path)
        with FileSystems.create(temp) as handle:
            handle.write(data)
        _replace(temp, self.path)
        return PartFile((), self.path, len(data), len(self._lines))


def read_part(path: str, columns: Sequence[str] | None = None) -> Iterator[tuple[int, pa.Table]]:
    """(index of its first row, table) for each row group of a Parquet part file, in order."""
    with FileSystems.open(path) as handle:
        parquet = pq.ParquetFile(handle)
        first = 0
        for group in range(parquet.num_row_groups):
            table = parquet.read_row_group(group, columns=columns)
            yield first, table
            first += table.num_rows


def read_part_rows(path: str, rows: Iterable[int], columns: Sequence[str]) -> dict[int, dict]:
    """{row: {column: value}} for the wanted rows of a part file, reading only their row groups."""
    wanted = sorted(set(rows))
    found: dict[int, dict] = {}
    with FileSystems.open(path) as handle:
        parquet = pq.ParquetFile(handle)
        first = 0
        for group in range(parquet.num_row_groups):
            count = parquet.metadata.row_group(group).num_rows
            inside = [row for row in wanted if first <= row < first + count]
            if inside:
                table = parquet.read_row_group(group, columns=list(columns))
                for row in inside:
                    found[row] = {name: table.column(name)[row - first].as_py() for name in columns}
            first += count
    return found


def plan_shards(parts: list[PartFile], target_bytes: int) -> dict[str, int]:
    """{part path: output shard} for parts in their order, runs of consecutive parts of about
    `target_bytes` each (a part is never cut, so one larger than the target is a shard alone)."""
    plan: dict[str, int] = {}
    shard, filled = 0, 0
    for part in sorted(parts):
        if filled and filled + part.bytes > target_bytes:
            shard, filled = shard + 1, 0
        plan[part.path] = shard
        filled += part.bytes
    return plan


class WriteParts(beam.PTransform):
    """PartFiles (and RemovedRows, optional) in; `{directory}/part-NNNNN.{suffix}` written.

    suffix "parquet": rows of the parts but the removed ones, with `schema`; counted per source
    as `documents_out` / `bytes_out` where count_output, and each removed row by its counter.
    suffix "jsonl": the parts' lines, concatenated. Returns the stats collection.
    """

    def __init__(
        self,
        directory: str,
        suffix: str,
        target_bytes: int,
        schema: pa.Schema | None = None,
        removed: beam.PCollection | None = None,
        count_output: bool = False,
    ):
        super().__init__()
        self._directory = directory
        self._suffix = suffix
        self._target_bytes = target_bytes
        self._schema = schema
        self._removed = removed
        self._count_output = count_output

    def expand(self, parts):
        plan = beam.pvalue.AsSingleton(
            parts
            | "All part references" >> beam.combiners.ToList()
            | "Plan shards" >> beam.Map(plan_shards, self._target_bytes)
        )
        by_shard = {"part": parts | "Shard of each part" >> beam.Map(lambda part, plan: (plan[part.path], part), plan)}
        if self._removed is not None:
            by_shard["removed"] = self._removed | "Shard of each removed row" >> beam.Map(
                lambda removed, plan: (plan[removed.part], removed), plan
            )
        written = (
            by_shard
            | "Group by shard" >> beam.CoGroupByKey()
            | "Write shards"
            >> beam.ParDo(_WriteShard(self._directory, self._suffix, self._schema, self._count_output)).with_outputs(
                STATS_TAG, main="paths"
            )
        )
        return written.stats


class _WriteShard(CountingDoFn):
    """(shard, {part: [PartFile], removed: [RemovedRow]}) -> the shard's file (its path)."""

    def __init__(self, directory: str, suffix: str, schema: pa.Schema | None, count_output: bool):
        self._directory = directory
        self._suffix = suffix
        self._schema = schema
        self._count_output = count_output

    def process(self, item):
        shard, groups = item
        parts = sorted(groups["part"])
        path = f"{self._directory}/part-{shard:05d}.{self._suffix}"
        if self._suffix == "jsonl":
            self._concatenate(parts, path)
        else:
            removed: dict[str, dict[int, str]] = {}
            for row in groups.get("removed", ()):
                removed.setdefault(row.part, {})[row.row] = row.counter
            self._write_parquet(parts, removed, path)
        yield path

    def _concatenate(self, parts: list[PartFile], path: str) -> None:
        temp = _temporary(path)
        with FileSystems.create(temp) as out:
            for part in parts:
                with FileSystems.open(part.path) as handle:
                    while chunk := handle.read(1 << 20):
                        out.write(chunk)
        _replace(temp, path)

    def _write_parquet(self, parts: list[PartFile], removed: dict[str, dict[int, str]], path: str) -> None:
        assert self._schema is not None, "a Parquet output needs its schema"
        writer = ParquetPartWriter(path, self._schema)
        for part in parts:
            dropped = removed.get(part.path, {})
            for first, table in read_part(part.path):
                removed_here = [row - first for row in dropped if first <= row < first + table.num_rows]
                kept_rows = table
                if removed_here:  # most row groups lose nothing: no per-row work for them
                    sources = table.column("source")
                    for i in removed_here:
                        self.count(sources[i].as_py(), dropped[first + i])
                    keep = np.ones(table.num_rows, dtype=bool)
                    keep[removed_here] = False
                    kept_rows = table.filter(pa.array(keep))
                if self._count_output:
                    self._count_rows(kept_rows)
                writer.append_table(kept_rows.select(self._schema.names).cast(self._schema))
        writer.close(empty_file=True)  # a shard whose every row was removed still exists: names never lie

    def _count_rows(self, table: pa.Table) -> None:
        sizes = pc.binary_length(table.column("text")).to_pylist()
        for source, size in zip(table.column("source").to_pylist(), sizes):
            self.count(source, "documents_out")
            self.count(source, "bytes_out", size)
