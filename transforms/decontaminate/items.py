"""Benchmark items: the files a benchmark names, and the items they hold with their text.

    JSON lines (also .gz, .zst)   one item per line; its id NAME:PATH:LINE (1-based)
    Parquet, Arrow (hf=DIR)       one item per row; NAME:PATH:ROW (0-based)
    anything else, as text        one item per blank-line-separated paragraph; NAME:PATH:LINE of its first line

PATH is the file's path below the benchmark path's root, as for documents (docs/ids.md). A
record's text is its `text_fields` joined with a space (a list's strings in turn), or, where the
benchmark names none, every string or list-of-strings field in record order but the id-like ones:
an id ("mmlu-0042") is no text a model is trained on, and joined to a short item (matched whole)
it would keep the item from ever matching.
"""

from __future__ import annotations

import json
import re
from typing import Iterator, NamedTuple

import pyarrow as pa

from transforms.decontaminate.settings import HF_PREFIX, BenchmarkSpec
from transforms.readers import (
    ARROW_MAGICS,
    SNIFF_BYTES,
    InputSpec,
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
    naming the benchmark whose path matches nothing or cannot be listed."""
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
        files += [BenchmarkFile(spec.name, p, files_input.relative_path(p), tuple(spec.text_fields)) for p in paths]
    return files


def item_ref(file_number: int, row: int) -> int:
    """An item's reference in the index: its file's number and its row (line, paragraph) there."""
    return file_number << 32 | row


def item_id(files: list[BenchmarkFile], ref: int) -> str:
    file = files[ref >> 32]
    return f"{file.benchmark}:{file.relative_path}:{ref & 0xFFFFFFFF}"


def benchmark_of(files: list[BenchmarkFile], ref: int) -> str:
    return files[ref >> 32].benchmark


def read_items(file: BenchmarkFile) -> Iterator[tuple[int, str | None]]:
    """(row, text) of each item of a benchmark file; text None for a line that is no JSON object."""
    with open_input(file.path) as raw:
        head = raw.read(SNIFF_BYTES)
        raw.seek(0)
        compression = sniff_compression(head)
        if head.startswith(ARROW_MAGICS):
            yield from _table_items(_arrow_batches(raw), file.text_fields)
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
    return record_text(record, text_fields) if isinstance(record, dict) else None


def _arrow_batches(raw) -> Iterator[pa.RecordBatch]:
    if raw.read(len(b"ARROW1")) == b"ARROW1":
        raw.seek(0)
        arrow_file = pa.ipc.open_file(raw)
        yield from (arrow_file.get_batch(i) for i in range(arrow_file.num_record_batches))
    else:
        raw.seek(0)
        yield from pa.ipc.open_stream(raw)


def _table_items(batches, text_fields: tuple[str, ...]) -> Iterator[tuple[int, str | None]]:
    row = 0
    for batch in batches:
        for record in batch.to_pylist():
            yield row, record_text(record, text_fields)
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
