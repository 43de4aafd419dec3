"""Writers that give byte-identical files for the same input, on any runner.

Beam's own file sinks name and fill shards in bundle order, which differs from
run to run. Here each record goes to the shard its key hashes to, each shard
is sorted by key, and the number of shards follows from the total size (a
deterministic figure), so the same records always make the same files.

Every file is written under a temporary name and renamed when complete; a
retried bundle rewrites the same name.
"""

from __future__ import annotations

import io
import json
import math
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Generic, Iterable, Mapping, Sequence, TypeVar

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
import xxhash
from apache_beam.io.filesystems import FileSystems

from transforms.records import Document
from transforms.settings import must_be_positive, setting


@dataclass
class WriteConfig:
    shard_target_bytes: int = setting(
        "Target size of one docs/*.parquet shard, in bytes of text; the number of shards is "
        "derived from the total so it does not depend on the runner.",
        default=128 * 1024 * 1024,
    )
    allow_empty: bool = setting(
        "Let prepare finish when no document is left to write (docs/ empty); by default that fails "
        "the run before anything is committed, as it almost always means wrong inputs or filters.",
        default=False,
    )

    def problems(self) -> list[str]:
        return must_be_positive("write.shard_target_bytes", self.shard_target_bytes)


# docs/*.parquet: the columns of a Document (transforms/records.py), in this order.
DOCS_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("source", pa.string()),
        ("url", pa.string()),
        ("kind", pa.string()),
        ("container", pa.string()),
        ("encoding", pa.string()),
        ("language", pa.string()),
        ("language_score", pa.float64()),
        ("text", pa.large_string()),
    ]
)
# rejected/*.parquet: the documents the filters dropped, as they entered the filters, and why.
REJECTED_SCHEMA = DOCS_SCHEMA.insert(DOCS_SCHEMA.get_field_index("text"), pa.field("reason", pa.string()))


class AtomicFile:
    """A file on any Beam filesystem, written in pieces under a temporary name and renamed to `path`
    on close: it never appears half written, and a retried bundle replaces it with the same bytes."""

    def __init__(self, path: str):
        self.path = path
        self.size = 0
        self._temp = f"{path}.tmp-{uuid.uuid4().hex}"
        self._handle = FileSystems.create(self._temp)

    def write(self, data: bytes) -> None:
        self._handle.write(data)
        self.size += len(data)

    def close(self) -> None:
        self._handle.close()
        if FileSystems.exists(self.path):  # a retried bundle wrote it before
            FileSystems.delete([self.path])
        FileSystems.rename([self._temp], [self.path])


def write_file_atomically(path: str, data: bytes) -> None:
    """Writes `data` to `path` on any Beam filesystem via a temporary name."""
    file = AtomicFile(path)
    file.write(data)
    file.close()


def shard_of(key: str, num_shards: int) -> int:
    """Stable across processes and Python versions (unlike hash())."""
    return xxhash.xxh64_intdigest(key.encode("utf-8")) % num_shards


def parquet_bytes(rows: Sequence[Document], schema: pa.Schema = DOCS_SCHEMA) -> bytes:
    """A zstd-compressed Parquet file of `schema`'s columns (null where a row lacks one): Documents, or
    RejectedDocuments with REJECTED_SCHEMA."""
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), buffer, compression="zstd")
    return buffer.getvalue()


def jsonl_bytes(rows: Sequence[Mapping[str, Any]]) -> bytes:
    return "".join(json.dumps(row, sort_keys=True, ensure_ascii=False) + "\n" for row in rows).encode("utf-8")


# What WriteSortedShards writes: dicts, e.g. Documents, dead letters (ReadError.to_json_dict), duplicate records.
Row = TypeVar("Row", bound=Mapping[str, Any])


class WriteSortedShards(beam.PTransform, Generic[Row]):
    """Writes a PCollection of rows to `{directory}/part-NNNNN.{suffix}`.

    key: the sort key of a row (unique per row); size: its weight in bytes;
    target_bytes: the wanted shard size, which fixes the number of shards;
    encode: turns a sorted list of rows into the file's bytes.
    """

    def __init__(
        self,
        directory: str,
        suffix: str,
        key: Callable[[Row], str],
        size: Callable[[Row], int],
        target_bytes: int,
        encode: Callable[[list[Row]], bytes],
    ):
        super().__init__()
        self._directory = directory
        self._suffix = suffix
        self._key = key
        self._size = size
        self._target_bytes = target_bytes
        self._encode = encode

    def expand(self, rows):
        total_bytes = rows | "Measure" >> beam.Map(self._size) | "Total size" >> beam.CombineGlobally(sum)
        return (
            rows
            | "Assign shard" >> beam.Map(self._assign, total_bytes=beam.pvalue.AsSingleton(total_bytes))
            | "Group by shard" >> beam.GroupByKey()
            | "Sort and write" >> beam.MapTuple(self._write)
        )

    def _assign(self, row: Row, total_bytes: int) -> tuple[int, Row]:
        num_shards = max(1, math.ceil(total_bytes / self._target_bytes))
        return shard_of(self._key(row), num_shards), row

    def _write(self, shard: int, rows: Iterable[Row]) -> str:
        path = f"{self._directory}/part-{shard:05d}.{self._suffix}"
        write_file_atomically(path, self._encode(sorted(rows, key=self._key)))
        return path
