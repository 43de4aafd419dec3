"""Readers: one input file in, documents and read errors out.

`read_file` opens a file on any Beam filesystem, finds out how it is compressed
and what it holds by sniffing its first bytes (unless the input names a kind),
and hands the stream to the reader of that kind. Readers are generators of
`RawDocument` and `ReadError`; they never raise on bad content, so one broken
record costs that record, not the job.

A large file is read by several workers: `split_file` cuts it into `FileRange`s
(byte ranges of JSON lines and WARC files, row-group ranges of Parquet) and
`read_range` reads one, giving each record the position and id that `read_file`
gives it when it reads the whole file. Where records carry their own ids, which
of them repeat an id read earlier in the file is found across the ranges first
(`record_ids`, transforms/repeated_ids.py) and handed to `read_range`.
"""

from __future__ import annotations

import gzip
import io
import json
import math
import os
import re
import zlib
from dataclasses import dataclass
from typing import AbstractSet, BinaryIO, Iterable, Iterator, NamedTuple

import pyarrow as pa
import pyarrow.parquet as pq
import zstandard
from apache_beam.io.filesystem import CompressionTypes, FileMetadata
from apache_beam.io.filesystems import FileSystems

from transforms.datasets_input import dataset_files
from transforms.encoding import wide_unicode_codec
from transforms.records import RawDocument, ReadError
from transforms.repeated_ids import id_entries, repeats
from transforms.settings import must_be_one_of, must_be_positive, setting
from transforms.warc import Skipped, iter_warc_records, looks_like_warc, split_points

INPUT_KINDS = ("auto", "text", "html", "warc", "jsonl", "parquet", "hf")
WILDCARD = re.compile(r"[*?\[]")  # what makes a Beam path a glob


@dataclass
class InputSpec:
    name: str = setting("Source name: stored with every document and used to group statistics.")
    glob: str = setting(
        "File glob on any Beam filesystem (local path, gs://...), or a directory: every file below it; "
        "for kind hf, the dataset's directory or Hub name. Ids hold each file's path below the glob's "
        "root (its part before the first wildcard)."
    )
    kind: str = setting(
        "Reader: auto (sniffed per file from its content), text, html, warc, jsonl, parquet, or hf: a Hugging "
        "Face datasets dataset (a save_to_disk directory, a directory of Parquet/JSON-lines data files, or "
        "a Hub name where the Hub can be reached; transforms/datasets_input.py).",
        default="auto",
    )

    def problems(self, where: str) -> list[str]:
        problems = []
        if not self.name or any(c in self.name for c in ":/= "):
            problems.append(f"{where}.name: {self.name!r} must be non-empty without ':', '/', '=' or spaces")
        if not self.glob:
            problems.append(f"{where}.glob: must not be empty")
        return problems + must_be_one_of(f"{where}.kind", self.kind, INPUT_KINDS)

    def matched_files(self, limit: int | None = None) -> list[FileMetadata]:
        """The files the input names (at most `limit`): those its glob matches, or every file below
        it where the glob, without wildcards, names a directory (a local one or a gs:// prefix), or
        a datasets input's data files (transforms/datasets_input.py)."""
        if self.kind == "hf":
            return dataset_files(self.glob)[:limit]
        if WILDCARD.search(self.glob) is None:
            below = FileSystems.match([self.glob.rstrip("/") + "/**"], limits=[limit])[0].metadata_list
            # A local directory matches itself, which is no file to read: empty, it names no file.
            # (On gs:// a prefix with nothing below it matches nothing either.)
            if below or os.path.isdir(self.glob):
                return below
        return FileSystems.match([self.glob], limits=[limit])[0].metadata_list

    def relative_path(self, path: str) -> str:
        """A matched file's path below the input's root: the part of the glob before its first
        wildcard, up to its last '/' (for a directory, the directory; for one file, its folder).
        Document ids hold this path, so the same files give the same ids under any root, local
        or gs://. Beam's filesystems list every match under the glob's root as written."""
        wildcard = WILDCARD.search(self.glob)
        if wildcard is None and path != self.glob:  # a file below a directory input
            root = self.glob.rstrip("/") + "/"
        else:
            end = len(self.glob) if wildcard is None else wildcard.start()
            root = self.glob[: self.glob.rfind("/", 0, end) + 1]
        return path.removeprefix(root)


@dataclass
class ReadConfig:
    text_field: str = setting("JSONL key / Parquet column holding the document text.", default="text")
    url_field: str = setting("JSONL key / Parquet column holding the URL, if present.", default="url")
    id_field: str = setting(
        "JSONL key / Parquet column holding each record's own id (a string or an integer). Where "
        "set, a document's id is SOURCE:PATH:RECORD_ID instead of SOURCE:PATH:LINE (or row), and a "
        "record without one, or repeating one already read from its file, goes to the dead-letter "
        "output. Empty: line and row numbers, but for the Arrow and Parquet files of a datasets input "
        "(kind hf) that have an `id` column: that column.",
        default="",
    )
    max_document_bytes: int = setting(
        "Documents larger than this (bytes, before cleaning) go to the dead-letter output "
        "instead of being held in memory; a whole book is a few MB.",
        default=64 * 1024 * 1024,
    )
    split_bytes: int = setting(
        "Uncompressed JSON-lines, Parquet and WARC files (and gzip-per-record WARC) larger than "
        "this (bytes as stored) are read in ranges of about this size, each by its own worker; "
        "a range holds the lines, row groups or records that start in it (where read.id_field "
        "is set, repeated ids are found across the ranges before they are read). Compressed JSONL, "
        "whole-file gzip, ARC, text and HTML files are read whole. "
        "Runs of smaller files are batched up to this size too. prepare cuts a corpus of less "
        "than 8 times this size into 8 parts of equal size (at least 4 MiB each), so every core "
        "has work until the end.",
        default=16 * 1024 * 1024,
    )

    def problems(self) -> list[str]:
        return must_be_positive("read.max_document_bytes", self.max_document_bytes) + must_be_positive(
            "read.split_bytes", self.split_bytes
        )


@dataclass(frozen=True, order=True)
class FileRange:
    """The part of one input file that one worker reads: all of it, or the records that START in [start, stop)."""

    path: str
    start: int = 0  # byte offset (JSONL, WARC) or first row group (Parquet)
    stop: int | None = None  # None: to the end of the file
    first_line: int = 1  # JSONL: the 1-based line number of the first line that starts at or after `start`


SNIFF_BYTES = 64 * 1024
GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
PARQUET_MAGIC = b"PAR1"
# An Arrow IPC stream (as Dataset.save_to_disk writes) starts with a continuation marker; a file, with its magic.
ARROW_MAGICS = (b"\xff\xff\xff\xff", b"ARROW1")
DATASETS_ID_COLUMN = "id"  # a datasets input's id column, where read.id_field names none
RECORD_ID_KINDS = ("jsonl", "parquet", "arrow")  # the kinds whose records can have their own ids
UNICODE_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")
HTML_OPENINGS = (b"<!doctype html", b"<html", b"<head", b"<?xml", b"<!--", b"<meta", b"<body")
HTML_OPENINGS_TEXT = tuple(opening.decode("ascii") for opening in HTML_OPENINGS)
# UTF-32 first: its little-endian BOM starts with UTF-16's.
WIDE_BOMS = (
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)

ReadItem = RawDocument | ReadError | Skipped  # Skipped: a WARC record that holds no text
# What the JSON-lines and whole-file readers read: the file itself or a decompressing view of it
# (gzip.GzipFile reads like a BinaryIO but is none to the type checker).
ByteStream = BinaryIO | gzip.GzipFile
COUNT_CHUNK_BYTES = 8 * 1024 * 1024  # read unit while counting the lines of a JSONL file
LONE_SURROGATE = re.compile("[\ud800-\udfff]")  # searched, not encoded: no copy of a large text


# ---------------------------------------------------------------------------
# Sniffing


def sniff_compression(head: bytes) -> str | None:
    """'gzip', 'zstd' or None, from the first bytes of a file."""
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    return None


def decompressed_head(head: bytes, compression: str | None) -> bytes:
    """As much of the decompressed start as `head` holds (for sniffing only); b"" where it does not
    decompress."""
    try:
        return decompress_head(head, compression)
    except (zlib.error, zstandard.ZstdError):
        return b""


def decompress_head(head: bytes, compression: str | None) -> bytes:
    """As decompressed_head, but raises zlib.error or zstandard.ZstdError, saying why, where `head`
    is no start of a `compression` stream."""
    if compression == "gzip":
        return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(head, SNIFF_BYTES)
    if compression == "zstd":
        return zstandard.ZstdDecompressor().decompressobj().decompress(head)[:SNIFF_BYTES]
    return head


def sniff_kind(head: bytes) -> str:
    """The reader for decompressed content starting with `head`.

    Returns one of warc, parquet, html, jsonl, binary, text. 'binary' means the
    bytes are no text at all (NUL bytes outside UTF-16/32, with or without a BOM):
    such a file goes to the dead-letter output instead of polluting the corpus.
    UTF-16/32 is html or text (the JSON-lines reader splits bytes at 0x0A).
    """
    if head.startswith(PARQUET_MAGIC):
        return "parquet"
    if looks_like_warc(head):
        return "warc"
    wide_codec = _wide_text_codec(head)
    if wide_codec is not None:
        opening = head.decode(wide_codec, errors="ignore").lstrip("\ufeff").lstrip()[:1024].lower()
        return "html" if opening.startswith(HTML_OPENINGS_TEXT) or "<html" in opening else "text"
    if b"\x00" in head[:8192]:
        return "binary"
    start = head
    for bom in UNICODE_BOMS:
        start = start.removeprefix(bom)
    start = start.lstrip()[:1024].lower()
    if start.startswith(HTML_OPENINGS) or b"<html" in start:
        return "html"
    if start.startswith(b"{") and _first_line_is_json_object(head):
        return "jsonl"
    return "text"


def _wide_text_codec(head: bytes) -> str | None:
    """The UTF-16/32 codec of text that starts with `head`, by its BOM or where its NULs sit; else None."""
    for bom, codec in WIDE_BOMS:
        if head.startswith(bom):
            return codec
    return wide_unicode_codec(head)


def _first_line_is_json_object(head: bytes) -> bool:
    line, newline, _ = head.lstrip().partition(b"\n")
    if not newline:  # the first record runs past the sniffed bytes: trust the brace
        return True
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False


def _sniff(spec: InputSpec, head: bytes) -> tuple[str | None, str]:
    """(compression, kind) of a file that starts with `head`; the input's kind wins over sniffing.
    A datasets input's files are Arrow (kind "arrow") or sniffed."""
    compression = sniff_compression(head)
    if spec.kind == "hf" and head.startswith(ARROW_MAGICS):
        return compression, "arrow"
    if spec.kind not in ("auto", "hf"):
        return compression, spec.kind
    return compression, sniff_kind(decompressed_head(head, compression))


def decompressing(raw: BinaryIO, compression: str | None) -> ByteStream:
    if compression == "gzip":
        return gzip.GzipFile(fileobj=raw)
    if compression == "zstd":
        # zstandard's reader has no readline(): buffering adds it.
        return io.BufferedReader(zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True))
    return raw


# Errors a decompressing stream raises on truncated or corrupt input.
DECOMPRESSION_ERRORS = (EOFError, zlib.error, gzip.BadGzipFile, zstandard.ZstdError)


def _decompression_error(source: str, path: str, position: int, err: Exception) -> ReadError:
    kind = "truncated_compressed_file" if isinstance(err, EOFError) else "corrupt_compressed_file"
    return ReadError(source, path, position, kind, f"{type(err).__name__}: {err}")


# ---------------------------------------------------------------------------
# Readers per kind


def read_whole_document(stream: ByteStream, source: str, path: str, kind: str, max_bytes: int) -> Iterator[ReadItem]:
    """A file that is one document (a book, an HTML page)."""
    try:
        data = stream.read(max_bytes + 1)
    except DECOMPRESSION_ERRORS as err:
        yield _decompression_error(source, path, 0, err)
        return
    yield RawDocument(source=source, path=path, position=0, kind=kind, data=data)


def read_jsonl(
    stream: ByteStream,
    source: str,
    path: str,
    config: ReadConfig,
    first_line: int = 1,
    limit: int | None = None,
) -> Iterator[ReadItem]:
    """JSON lines: one object per line, text under `config.text_field`.

    `position` is the 1-based line number: the stream's first line is `first_line`. With a
    `limit`, only the lines that start within the stream's next `limit` bytes are read (the
    last of them to its end). A line longer than the document limit is skipped without being
    held in memory.
    """
    line_no = first_line - 1
    offset = 0  # bytes read from the stream
    while limit is None or offset < limit:
        line_no += 1
        try:
            line = stream.readline(config.max_document_bytes + 1)
        except DECOMPRESSION_ERRORS as err:
            yield _decompression_error(source, path, line_no, err)
            return
        if not line:
            return
        offset += len(line)
        if len(line) > config.max_document_bytes and not line.endswith(b"\n"):
            yield ReadError(
                source,
                path,
                line_no,
                "document_too_large",
                f"line longer than {config.max_document_bytes} bytes",
                line[:200],
            )
            skipped = _skip_rest_of_line(stream)
            if skipped is None:
                return
            offset += skipped
            continue
        if not line.strip():
            continue
        item = _jsonl_record(line, source, path, line_no, config)
        del line  # as large as the document: not held while the document is cleaned
        yield item


def _skip_rest_of_line(stream: ByteStream) -> int | None:
    """Reads past the next newline: the bytes read, or None when the stream ended (or broke) first."""
    skipped = 0
    try:
        while chunk := stream.readline(1 << 20):
            skipped += len(chunk)
            if chunk.endswith(b"\n"):
                return skipped
    except DECOMPRESSION_ERRORS:
        pass
    return None


def _jsonl_record(line: bytes, source: str, path: str, line_no: int, config: ReadConfig) -> ReadItem:
    try:
        record = json.loads(line)
    except (ValueError, RecursionError) as err:  # RecursionError: nested deeper than Python's stack
        return ReadError(source, path, line_no, "invalid_json", f"{type(err).__name__}: {err}", line)
    if not isinstance(record, dict):
        return ReadError(source, path, line_no, "invalid_json", "line is not a JSON object", line)
    text = record.get(config.text_field)
    if not isinstance(text, str):
        return ReadError(source, path, line_no, "missing_text", f"no string field {config.text_field!r}", line)
    url = record.get(config.url_field)
    record_id = record_id_of(record.get(config.id_field)) if config.id_field else None
    if config.id_field and record_id is None:
        return ReadError(source, path, line_no, "missing_id", f"no string or integer field {config.id_field!r}", line)
    # JSON's \ud800 escapes decode to lone surrogates, which no UTF-8 writer accepts.
    for field, value in ((config.text_field, text), (config.url_field, url), (config.id_field, record_id)):
        if isinstance(value, str) and LONE_SURROGATE.search(value):
            return ReadError(source, path, line_no, "invalid_unicode", f"field {field!r} holds a lone surrogate", line)
    return RawDocument(
        source=source,
        path=path,
        position=line_no,
        kind="text",
        data=text,
        url=url if isinstance(url, str) else None,
        container="jsonl",
        record_id=record_id,
    )


def record_id_of(value: object) -> str | None:
    """A record's own id as text: strings as they are, integers in decimal; None for anything else."""
    if isinstance(value, str) and value:
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def streamed_parquet(raw: BinaryIO) -> pq.ParquetFile:
    """A Parquet file to read batch by batch, holding one row group's column chunks at a time.

    pyarrow's default (pre_buffer=True) keeps every column chunk that an `iter_batches` call has
    read until the iteration ends, so memory grew with the file: about 400 MB over a 1 GB docs
    file (docs/memory.md). Without it, each row group's chunks are read when it is reached and
    released after."""
    return pq.ParquetFile(raw, pre_buffer=False)


def read_parquet(
    raw: BinaryIO,
    source: str,
    path: str,
    config: ReadConfig,
    first_group: int = 0,
    stop_group: int | None = None,
    default_id: str = "",
) -> Iterator[ReadItem]:
    """Parquet rows of row groups [first_group, stop_group) (None: to the last), text in column
    `config.text_field`; `position` is the row's index in the whole file. A missing column is
    one dead letter, reported by the range that starts at the first row group. `default_id` is
    the id column where read.id_field is empty and the file has it (see `_table_columns`)."""
    row = 0
    try:
        parquet = streamed_parquet(raw)
        groups = range(first_group, parquet.num_row_groups if stop_group is None else stop_group)
        row = sum(parquet.metadata.row_group(i).num_rows for i in range(first_group))
        columns = _table_columns(parquet.schema_arrow.names, config, default_id, source, path)
        if isinstance(columns, ReadError):
            if first_group == 0:
                yield columns
            return
        batches = parquet.iter_batches(columns=columns.names, batch_size=1024, row_groups=list(groups))
        yield from _table_rows(batches, row, columns, source, path, "parquet")
    except Exception as err:  # pyarrow raises many types for a damaged file
        yield ReadError(source, path, row, "invalid_parquet", f"{type(err).__name__}: {err}")


def read_arrow(raw: BinaryIO, source: str, path: str, config: ReadConfig, default_id: str = "") -> Iterator[ReadItem]:
    """The rows of an Arrow IPC stream (as Dataset.save_to_disk writes them) or file, one record
    batch in memory at a time; as read_parquet otherwise."""
    row = 0
    try:
        if raw.read(len(b"ARROW1")) == b"ARROW1":
            raw.seek(0)
            arrow_file = pa.ipc.open_file(raw)
            schema = arrow_file.schema
            batches = (arrow_file.get_batch(i) for i in range(arrow_file.num_record_batches))
        else:
            raw.seek(0)
            stream = pa.ipc.open_stream(raw)
            schema, batches = stream.schema, iter(stream)
        columns = _table_columns(schema.names, config, default_id, source, path)
        if isinstance(columns, ReadError):
            yield columns
            return
        yield from _table_rows((b.select(columns.names) for b in batches), row, columns, source, path, "arrow")
    except Exception as err:  # pyarrow raises many types for a damaged file
        yield ReadError(source, path, row, "invalid_arrow", f"{type(err).__name__}: {err}")


class TableColumns(NamedTuple):
    """The columns read from a Parquet or Arrow file: text, and URL and id where there are ("" if not)."""

    text: str
    url: str
    id: str

    @property
    def names(self) -> list[str]:
        return [name for name in self if name]


def _table_columns(
    names: list[str], config: ReadConfig, default_id: str, source: str, path: str
) -> TableColumns | ReadError:
    """The columns to read from a file with the columns `names`: read.text_field, read.url_field
    where present, and read.id_field, or else `default_id` where present; the dead letter of
    the file where the text or the configured id column is missing."""
    id_column = config.id_field or (default_id if default_id in names else "")
    for column, error in ((config.text_field, "missing_text"), (id_column, "missing_id")):
        if column and column not in names:
            return ReadError(source, path, 0, error, f"no column {column!r} (columns: {names})")
    return TableColumns(config.text_field, config.url_field if config.url_field in names else "", id_column)


def _table_rows(
    batches: Iterable[pa.RecordBatch], row: int, columns: TableColumns, source: str, path: str, container: str
) -> Iterator[ReadItem]:
    """The rows of record batches as documents; `row` is the first one's position in its file."""
    for batch in batches:
        data = batch.to_pydict()
        urls = data.get(columns.url, [None] * batch.num_rows)
        ids = data.get(columns.id, [None] * batch.num_rows)
        for text, url, value in zip(data[columns.text], urls, ids):
            record_id = record_id_of(value)
            if not isinstance(text, str):
                yield ReadError(source, path, row, "missing_text", f"row has no text ({text!r})")
            elif columns.id and record_id is None:
                yield ReadError(source, path, row, "missing_id", f"row has no id ({value!r})")
            else:
                yield RawDocument(
                    source=source,
                    path=path,
                    position=row,
                    kind="text",
                    data=text,
                    url=url if isinstance(url, str) else None,
                    container=container,
                    record_id=record_id,
                )
            row += 1


def read_file(spec: InputSpec, path: str, config: ReadConfig) -> Iterator[ReadItem]:
    """Every document and read error of one file, by the input's kind or by sniffing.

    Empty and oversized documents, from any reader, become dead letters here, and so does a
    record whose own id (read.id_field) an earlier record of the file already had: ids are unique.
    Where records may have their own ids, the file is read twice: for its ids, then whole.
    """
    whole = FileRange(path)
    repeated = repeats(id_entries(spec.name, spec.relative_path(path), record_ids(spec, whole, config)))
    return read_range(spec, whole, config, frozenset(repeated["position"].tolist()))


def read_range(
    spec: InputSpec, part: FileRange, config: ReadConfig, repeated: AbstractSet[int] = frozenset()
) -> Iterator[ReadItem]:
    """Like read_file for the records of `part`; positions and ids are those read_file gives for the whole file.

    A range from `split_file` holds the records that start in it. Given any other byte range,
    the JSON-lines reader starts at the first line that starts at or after `part.start` (whose
    number must be `part.first_line`); a WARC range must start and stop on record starts.
    `repeated` holds the positions of the records whose own id an earlier record of the file
    had (found from `record_ids` of every range of the file: transforms/repeated_ids.py): each
    is the dead letter "duplicate_id".

    Readers report bad records themselves; should one raise all the same, the exception ends
    the range as one "reader_raised" dead letter with its class and message, not the job.
    """
    position = part.start
    try:
        for item in _read_items(spec, part, config):
            if isinstance(item, RawDocument):
                item = size_error(item, config.max_document_bytes) or _repeated_id(item, repeated) or item
            position = item.position
            yield item
    except Exception as err:
        message = f"{type(err).__name__}: {err} (the rest of the range from here is not read)"
        yield ReadError(spec.name, spec.relative_path(part.path), position, "reader_raised", message)


def has_own_ids(spec: InputSpec, config: ReadConfig) -> bool:
    """Whether the records of `spec` may carry their own ids: read.id_field, or a datasets input."""
    return bool(config.id_field) or spec.kind == "hf"


def record_ids(spec: InputSpec, part: FileRange, config: ReadConfig) -> Iterator[tuple[int, str]]:
    """(position, own id) of every record of `part` whose id read_range checks for repeats: the
    documents with an own id (read.id_field, or a datasets input's id column) that are neither
    empty nor too large. Nothing where no record can have one; up to where read_range's
    "reader_raised" would end the range."""
    if not has_own_ids(spec, config):
        return
    try:
        for item in _read_items(spec, part, config, RECORD_ID_KINDS):
            if isinstance(item, RawDocument) and item.record_id is not None:
                if size_error(item, config.max_document_bytes) is None:
                    yield item.position, item.record_id
    except Exception:  # read_range reports it, where it reads the range
        return


def split_file(spec: InputSpec, path: str, config: ReadConfig) -> list[FileRange]:
    """Ranges of about config.split_bytes (the file's bytes shared evenly among as many ranges as
    that size needs) that together read every record exactly once, in file order; one range (the
    whole file) for a file that cannot or need not be split.

    Split: uncompressed JSON lines (at line starts; reads the file once to count its lines, in
    bounded memory), Parquet with several row groups (by row groups, sized by their bytes as
    stored) and WARC files, plain or gzip per record (at record starts; see
    `transforms.warc.split_points`). Not split: files no larger than split_bytes, compressed
    files other than WARC, whole-document kinds (text, HTML), ARC and whole-file gzip WARC, and
    any file that cannot be read or parsed here (its one range reports why).
    """
    whole = [FileRange(path)]
    try:
        with open_input(path) as raw:
            size = raw.seek(0, io.SEEK_END)
            if size <= config.split_bytes:
                return whole
            raw.seek(0)
            compression, kind = _sniff(spec, raw.read(SNIFF_BYTES))
            raw.seek(0)
            # Ranges of even size rather than full ones and a short last one: parts of one size
            # finish together on workers that take them in turn (the DirectRunner's way).
            range_bytes = math.ceil(size / math.ceil(size / config.split_bytes))
            if kind == "warc":
                starts = split_points(raw, range_bytes)
                stops: list[int | None] = [*starts[1:], None]
                return [FileRange(path, start, stop) for start, stop in zip(starts, stops)]
            if compression is not None:
                return whole
            if kind == "jsonl":
                return _jsonl_ranges(raw, path, size, range_bytes)
            if kind == "parquet":
                return _parquet_ranges(raw, path, range_bytes)
    except Exception:  # an unreadable or damaged file is read whole, and its reader says what is wrong
        pass
    return whole


def _jsonl_ranges(raw: BinaryIO, path: str, size: int, split_bytes: int) -> list[FileRange]:
    """Byte ranges that start on line starts, each at least split_bytes long (but the last)."""
    ranges = []
    start, first_line = 0, 1
    offset, newlines = 0, 0  # bytes read so far and the newlines among them
    while chunk := raw.read(COUNT_CHUNK_BYTES):
        at = max(start + split_bytes - 1 - offset, 0)  # a range ends with the first newline from here
        while (newline := chunk.find(b"\n", at)) >= 0 and offset + newline + 1 < size:
            boundary = offset + newline + 1
            ranges.append(FileRange(path, start, boundary, first_line))
            start, first_line = boundary, newlines + chunk.count(b"\n", 0, newline + 1) + 1
            at = max(start + split_bytes - 1 - offset, 0)
        offset += len(chunk)
        newlines += chunk.count(b"\n")
    return [*ranges, FileRange(path, start, None, first_line)]


def _parquet_ranges(raw: BinaryIO, path: str, split_bytes: int) -> list[FileRange]:
    """Row-group ranges, each of at least split_bytes as stored (but the last)."""
    metadata = pq.ParquetFile(raw).metadata
    ranges = []
    start, size = 0, 0
    for i in range(metadata.num_row_groups):
        if size >= split_bytes:
            ranges.append(FileRange(path, start, i))
            start, size = i, 0
        group = metadata.row_group(i)
        size += sum(group.column(c).total_compressed_size for c in range(group.num_columns))
    return [*ranges, FileRange(path, start, None)]


def open_input(path: str) -> BinaryIO:
    """An input file as stored (no decompression): on any Beam filesystem, or on the Hugging Face
    Hub (hf://, the files of a datasets input read from there)."""
    if path.startswith("hf://"):
        from huggingface_hub import HfFileSystem

        return HfFileSystem().open(path, "rb")
    return FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED)


def _repeated_id(doc: RawDocument, repeated: AbstractSet[int]) -> ReadError | None:
    if doc.record_id is None or doc.position not in repeated:
        return None
    return ReadError(
        doc.source,
        doc.path,
        doc.position,
        "duplicate_id",
        f"id {doc.record_id!r} was already read from this file",
        doc.excerpt(),
    )


def _read_items(
    spec: InputSpec, part: FileRange, config: ReadConfig, kinds: tuple[str, ...] | None = None
) -> Iterator[ReadItem]:
    """The items of `part`, as its kind's reader gives them; nothing where `kinds` leaves its kind out."""
    path = spec.relative_path(part.path)  # what records hold; the file is opened by its full path
    try:
        raw = open_input(part.path)
    except Exception as err:  # a filesystem says why in its own exception types
        yield ReadError(spec.name, path, part.start, "unreadable_file", f"{type(err).__name__}: {err}")
        return
    with raw:
        head = raw.read(SNIFF_BYTES)
        raw.seek(0)
        compression, kind = _sniff(spec, head)
        default_id = DATASETS_ID_COLUMN if spec.kind == "hf" else ""
        if kinds is not None and kind not in kinds:
            return
        if not head:
            if part.start == 0:
                yield ReadError(spec.name, path, 0, "empty_document", "the file is empty")
        elif kind == "parquet":
            yield from read_parquet(raw, spec.name, path, config, part.start, part.stop, default_id)
        elif kind == "warc":  # the WARC reader handles per-record gzip itself
            raw.seek(part.start)
            yield from iter_warc_records(raw, spec.name, path, part.stop, config.max_document_bytes)
        elif kind == "jsonl" and compression is None and part != FileRange(part.path):
            yield from _read_jsonl_range(raw, spec.name, path, part, config)
        elif part.start > 0:
            return  # every other file is one range: its records all start in the first
        elif kind == "arrow":
            yield from read_arrow(raw, spec.name, path, config, default_id)
        elif kind == "binary":
            yield ReadError(
                spec.name,
                path,
                0,
                "binary_content",
                "the file holds NUL bytes: not text in any encoding we read",
                head[:200],
            )
        else:
            stream = decompressing(raw, compression)
            if kind == "jsonl":
                yield from read_jsonl(stream, spec.name, path, config)
            else:
                yield from read_whole_document(stream, spec.name, path, kind, config.max_document_bytes)


def _read_jsonl_range(raw: BinaryIO, source: str, path: str, part: FileRange, config: ReadConfig) -> Iterator[ReadItem]:
    """The lines of an uncompressed JSONL file that start in [part.start, part.stop); records hold `path`."""
    begin = part.start
    if begin > 0:  # the line that runs across `start` belongs to the range before
        raw.seek(begin - 1)
        skipped = _skip_rest_of_line(raw)
        if skipped is None:
            return
        begin += skipped - 1
    limit = None if part.stop is None else part.stop - begin
    yield from read_jsonl(raw, source, path, config, part.first_line, limit)


def size_error(doc: RawDocument, max_bytes: int) -> ReadError | None:
    """The dead letter for an empty or oversized document, else None."""
    size = doc.size_bytes()
    if size == 0:
        return ReadError(doc.source, doc.path, doc.position, "empty_document", "the document is empty")
    if size > max_bytes:
        return ReadError(
            doc.source,
            doc.path,
            doc.position,
            "document_too_large",
            f"{size} > read.max_document_bytes={max_bytes}",
            doc.excerpt(),
        )
    return None
