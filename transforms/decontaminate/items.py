"""Benchmark items: the files a benchmark names, and the items they hold with their text.

    JSON lines (also .gz, .zst)   one item per line; its id NAME:PATH:LINE (1-based)
    Parquet, Arrow (hf=DIR)       one item per row; NAME:PATH:ROW (0-based)
    anything else, as text        one item per blank-line-separated paragraph; NAME:PATH:LINE of its first line

PATH is the file's path below the benchmark path's root, as for documents (docs/ids.md). A
record's text is its `text_fields` joined with a space (a list's strings in turn), or, where the
benchmark names none, every string or list-of-strings field in record order but the id-like ones:
an id ("mmlu-0042") is no text a model is trained on, and joined to a short item (matched whole)
it would keep the item from ever matching.

Before any work the driver checks each file's start (`check_readable`): a file that cannot be
opened, or is not what its name or its first bytes say, is an operator error. Past that check, an
item that cannot be made text is counted as unreadable, and a file that breaks off while being
read (corrupt past its start) ends there, counted as an unreadable file: neither stops the job.
"""

from __future__ import annotations

import codecs
import json
import re
from typing import Iterator, NamedTuple

import pyarrow as pa

from transforms.decontaminate.settings import HF_PREFIX, BenchmarkSpec
from transforms.readers import (
    ARROW_MAGICS,
    DECOMPRESSION_ERRORS,
    SNIFF_BYTES,
    InputSpec,
    decompress_head,
    decompressed_head,
    decompressing,
    open_input,
    sniff_compression,
    sniff_kind,
    streamed_parquet,
)
from transforms.settings import ConfigError

ID_LIKE = re.compile(r"(id|idx|uuid|guid)|.*[_-](id|idx|uuid)", re.IGNORECASE)
BLANK_LINE = re.compile(r"\n[ \t\r\f\v]*\n")
# The kind a file's name promises (after .gz, .zst): its content must be of that kind.
NAMED_KINDS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".parquet": "parquet", ".arrow": "arrow"}
KIND_STARTS = {
    "jsonl": "a JSON object on its first line (JSON must be JSON lines: one object per line)",
    "parquet": "Parquet's PAR1",
    "arrow": "Arrow's magic bytes",
}
COMPRESSED_SUFFIXES = (".gz", ".zst", ".zstd")


class BenchmarkFile(NamedTuple):
    """One file of a benchmark; its place in the list of every benchmark's files is its number,
    which item references carry (`item_ref`)."""

    benchmark: str
    path: str  # as matched, to open
    relative_path: str  # below the benchmark path's root, for item ids
    text_fields: tuple[str, ...]


def input_spec(spec: BenchmarkSpec) -> InputSpec:
    """The benchmark's path as an input's glob: matched and made relative the same way."""
    if spec.path.startswith(HF_PREFIX):
        return InputSpec(name=spec.name, glob=spec.path.removeprefix(HF_PREFIX), kind="hf")
    return InputSpec(name=spec.name, glob=spec.path)


def benchmark_files(benchmarks: list[BenchmarkSpec]) -> list[BenchmarkFile]:
    """Every file of every benchmark, benchmark by benchmark, in path order; raises ConfigError
    naming the benchmark whose path matches nothing or cannot be listed, or the file that fails
    `check_readable`."""
    files = []
    for i, spec in enumerate(benchmarks):
        where = f"decontaminate.benchmarks[{i}].path"
        files_input = input_spec(spec)
        try:
            matched = files_input.matched_files()
        except ConfigError as err:  # a datasets directory that holds no data file says why
            raise ConfigError(f"{where}: {err}") from None
        except Exception as err:  # Beam raises BeamIOError with the filesystem's reason
            raise ConfigError(f"{where}: {spec.path!r} cannot be listed: {err}") from None
        if not matched:
            raise ConfigError(f"{where}: {spec.path!r} matches no file")
        paths = [m.path for m in matched] if files_input.kind == "hf" else sorted(m.path for m in matched)
        for path in paths:
            file = BenchmarkFile(spec.name, path, files_input.relative_path(path), tuple(spec.text_fields))
            problem = check_readable(file)
            if problem:
                raise ConfigError(f"{where}: {path} {problem}")
            files.append(file)
    return files


def check_readable(file: BenchmarkFile) -> str | None:
    """Why the benchmark file cannot be read as what it is, or None: from its first bytes, and for
    Parquet and Arrow from their schema, never a full read. The start must decompress; a file named
    .jsonl, .parquet or .arrow must hold that; Parquet's and Arrow's schema, or a JSON-lines file's
    first record, must have every one of `text_fields`; text must start as UTF-8 (the reader
    replaces a stray bad byte further on)."""
    try:
        with open_input(file.path) as raw:
            head = raw.read(SNIFF_BYTES)
            raw.seek(0)
            compression = sniff_compression(head)
            if head.startswith(ARROW_MAGICS):
                kind, start = "arrow", b""
            else:
                try:
                    start = decompress_head(head, compression)
                except DECOMPRESSION_ERRORS as err:
                    return f"does not decompress as {compression}: {err}"
                kind = sniff_kind(start)
            named = _named_kind(file.path)
            if named is not None and named != kind and head:  # an empty file is no item, whatever its name
                return f"is named as {named} but does not start with {KIND_STARTS[named]}"
            if kind == "arrow":
                return _missing_fields(_arrow_table(raw)[0].names, file.text_fields)
            if kind == "parquet":
                return _missing_fields(streamed_parquet(raw).schema_arrow.names, file.text_fields)
    except Exception as err:  # the filesystem's or pyarrow's reason, whatever its type
        return f"cannot be read: {one_line(err)}"
    if kind == "jsonl":  # sniff_kind found its first line a JSON object, or longer than the start (not checked)
        line, newline, _ = start.lstrip().partition(b"\n")
        return _missing_fields(list(json.loads(line)), file.text_fields) if newline else None
    if b"\x00" in start:
        return "is no UTF-8 text (it holds NUL bytes: binary data, or UTF-16 or UTF-32)"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(start, final=False)
    except UnicodeDecodeError as err:
        return f"is no UTF-8 text: {err}"
    return None


def one_line(err: Exception) -> str:
    """An exception's type and message on one line (pyarrow's can span several)."""
    return " ".join(f"{type(err).__name__}: {err}".split())


def _named_kind(path: str) -> str | None:
    name = path.lower()
    for suffix in COMPRESSED_SUFFIXES:
        name = name.removesuffix(suffix)
    return next((kind for suffix, kind in NAMED_KINDS.items() if name.endswith(suffix)), None)


def _missing_fields(names: list[str], text_fields: tuple[str, ...]) -> str | None:
    missing = [field for field in text_fields if field not in names]
    return f"has no field {', '.join(missing)} of text_fields (it has {', '.join(names)})" if missing else None


def item_ref(file_number: int, row: int) -> int:
    """An item's reference in the index: its file's number and its row (line, paragraph) there."""
    return file_number << 32 | row


def item_id(files: list[BenchmarkFile], ref: int) -> str:
    file = files[ref >> 32]
    return f"{file.benchmark}:{file.relative_path}:{ref & 0xFFFFFFFF}"


def benchmark_of(files: list[BenchmarkFile], ref: int) -> str:
    return files[ref >> 32].benchmark


def read_items(file: BenchmarkFile) -> Iterator[tuple[int, str | None]]:
    """(row, text) of each item of a benchmark file; text None for a line that is no JSON object
    or a record whose fields cannot be made text. Raises where the file cannot be read on."""
    with open_input(file.path) as raw:
        head = raw.read(SNIFF_BYTES)
        raw.seek(0)
        compression = sniff_compression(head)
        if head.startswith(ARROW_MAGICS):
            yield from _table_items(_arrow_table(raw)[1], file.text_fields)
            return
        kind = sniff_kind(decompressed_head(head, compression))
        if kind == "parquet":
            yield from _table_items(streamed_parquet(raw).iter_batches(batch_size=1024), file.text_fields)
        elif kind == "jsonl":
            stream = decompressing(raw, compression)
            for line_number, line in enumerate(iter(stream.readline, b""), start=1):
                if line.strip():
                    yield line_number, _json_line_text(line, file.text_fields)
        else:  # a benchmark is text its makers wrote: one undecodable byte costs only its word
            text = decompressing(raw, compression).read().decode("utf-8-sig", errors="replace")
            yield from paragraphs(text)


def paragraphs(text: str) -> Iterator[tuple[int, str]]:
    """(1-based line of its first line, paragraph) of each blank-line-separated paragraph."""
    text = text.replace("\r\n", "\n")
    start, line, counted = 0, 1, 0  # line: of the character at `counted`
    for separator in [*BLANK_LINE.finditer(text), None]:
        end = len(text) if separator is None else separator.start()
        paragraph = text[start:end]
        if paragraph.strip():
            first = start + len(paragraph) - len(paragraph.lstrip())
            line += text.count("\n", counted, first)
            counted = first
            yield line, paragraph.strip()
        if separator is not None:
            start = separator.end()


def _json_line_text(line: bytes, text_fields: tuple[str, ...]) -> str | None:
    try:
        record = json.loads(line)
    except (ValueError, RecursionError):
        return None
    return _item_text(record, text_fields)


def _item_text(record: object, text_fields: tuple[str, ...]) -> str | None:
    """record_text, or None where the record is no object or its fields cannot be made text."""
    if not isinstance(record, dict):
        return None
    try:
        return record_text(record, text_fields)
    except Exception:  # e.g. RecursionError on lists nested past Python's limit: one unreadable item
        return None


def _arrow_table(raw) -> tuple[pa.Schema, Iterator[pa.RecordBatch]]:
    """The schema and record batches of an Arrow IPC file or stream."""
    if raw.read(len(b"ARROW1")) == b"ARROW1":
        raw.seek(0)
        arrow_file = pa.ipc.open_file(raw)
        return arrow_file.schema, (arrow_file.get_batch(i) for i in range(arrow_file.num_record_batches))
    raw.seek(0)
    stream = pa.ipc.open_stream(raw)
    return stream.schema, iter(stream)


def _table_items(batches, text_fields: tuple[str, ...]) -> Iterator[tuple[int, str | None]]:
    row = 0
    for batch in batches:
        for record in batch.to_pylist():
            yield row, _item_text(record, text_fields)
            row += 1


def record_text(record: dict, text_fields: tuple[str, ...]) -> str:
    """The text of a record: its `text_fields` in order, or every text field but the id-like ones
    (module docstring), each string, and each list's strings in turn, joined with a space."""
    if text_fields:
        values = [record.get(name) for name in text_fields]
    else:
        values = [value for name, value in record.items() if not ID_LIKE.fullmatch(name) and _is_text(value)]
    return " ".join(piece for value in values for piece in _strings(value))


def _is_text(value: object) -> bool:
    return isinstance(value, str) or (isinstance(value, list) and all(_is_text(v) for v in value) and bool(value))


def _strings(value: object) -> Iterator[str]:
    """A value's text: a string, a list's (nested lists too), a number's decimal form; nothing for None."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        yield str(value)
