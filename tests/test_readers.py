"""Readers, without Beam: sniffing, each container kind, and bad input."""

import gzip
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from transforms.readers import InputSpec, ReadConfig, read_file, sniff_kind
from transforms.records import RawDocument, ReadError


def _read(path, kind="auto", **config):
    return list(read_file(InputSpec(name="src", glob=str(path), kind=kind), str(path), ReadConfig(**config)))


def _docs(items):
    return [item for item in items if isinstance(item, RawDocument)]


def _errors(items):
    return [item.error for item in items if isinstance(item, ReadError)]


@pytest.mark.parametrize(
    "head, kind",
    [
        (b"PAR1\x15\x04", "parquet"),
        (b"WARC/1.0\r\nWARC-Type: warcinfo\r\n", "warc"),
        (b"\xef\xbb\xbf<!DOCTYPE html><html>", "html"),
        (b"  \n<html lang='de'><head>", "html"),
        (b'{"text": "hello", "id": 1}\n{"text": "x"}\n', "jsonl"),
        (b"{ this is a book that starts with a brace\nand more\n", "text"),
        (b"The Project Gutenberg EBook of Moby Dick\r\n", "text"),
        (b"\x00\x01\x02ELF binary junk\x00", "binary"),
        (b"\xff\xfeH\x00i\x00", "text"),  # UTF-16 with BOM holds NULs but is text
    ],
)
def test_sniff_kind_recognises_each_container(head, kind):
    assert sniff_kind(head) == kind


def test_plain_and_gzipped_text_files_are_one_document_each(tmp_path):
    (tmp_path / "book").write_bytes(b"Call me Ishmael.\r\n")
    (tmp_path / "book.txt.gz").write_bytes(gzip.compress(b"Call me Ishmael.\r\n"))
    for name in ("book", "book.txt.gz"):
        [doc] = _read(tmp_path / name)
        assert (doc.kind, doc.data, doc.position) == ("text", b"Call me Ishmael.\r\n", 0)
        assert doc.id == f"src:{tmp_path / name}:0"


def test_jsonl_bad_lines_go_to_dead_letter_and_good_lines_survive(tmp_path):
    lines = [
        json.dumps({"text": "first", "url": "https://a.example/"}),
        "{not json",
        json.dumps(["a", "list"]),
        json.dumps({"body": "no text field"}),
        "",
        json.dumps({"text": "last"}),
    ]
    path = tmp_path / "docs.jsonl"
    path.write_text("\n".join(lines) + "\n")
    items = _read(path)
    assert [(d.position, d.data, d.url) for d in _docs(items)] == [
        (1, "first", "https://a.example/"),
        (6, "last", None),
    ]
    assert _errors(items) == ["invalid_json", "invalid_json", "missing_text"]
    assert [e.position for e in items if isinstance(e, ReadError)] == [2, 3, 4]


def test_truncated_gzip_jsonl_keeps_complete_lines_and_reports_the_cut(tmp_path):
    payload = "".join(json.dumps({"text": f"document {i} " * 50}) + "\n" for i in range(200)).encode()
    compressed = gzip.compress(payload)
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(compressed[: len(compressed) // 2])
    items = _read(path)
    assert 0 < len(_docs(items)) < 200
    assert _errors(items) == ["truncated_compressed_file"]


def test_zstd_jsonl_is_read(tmp_path):
    path = tmp_path / "docs.jsonl.zst"
    path.write_bytes(zstandard.ZstdCompressor().compress(b'{"text": "zstd works"}\n'))
    assert [d.data for d in _docs(_read(path))] == ["zstd works"]


def test_oversized_jsonl_line_is_skipped_without_losing_the_next(tmp_path):
    path = tmp_path / "big.jsonl"
    path.write_text(json.dumps({"text": "x" * 5000}) + "\n" + json.dumps({"text": "small"}) + "\n")
    items = _read(path, max_document_bytes=1000)
    assert _errors(items) == ["document_too_large"]
    assert [d.data for d in _docs(items)] == ["small"]


def test_parquet_rows_are_documents_with_row_positions(tmp_path):
    path = tmp_path / "docs.parquet"
    pq.write_table(pa.table({"text": ["a", None, "c"], "url": ["u1", "u2", None]}), path)
    items = _read(path)
    assert [(d.position, d.data, d.url) for d in _docs(items)] == [(0, "a", "u1"), (2, "c", None)]
    assert _errors(items) == ["missing_text"]


def test_parquet_without_the_text_column_is_one_dead_letter(tmp_path):
    path = tmp_path / "docs.parquet"
    pq.write_table(pa.table({"body": ["a"]}), path)
    assert _errors(_read(path)) == ["missing_text"]


def test_jsonl_records_own_ids_name_the_documents_and_missing_or_repeated_ones_are_dead_letters(tmp_path):
    path = tmp_path / "docs.jsonl"
    lines = [
        {"doc_id": "cc-1", "text": "one"},
        {"doc_id": 7, "text": "two"},
        {"text": "no id"},
        {"doc_id": "cc-1", "text": "again"},
        {"doc_id": True, "text": "a bool is no id"},
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    items = _read(path, id_field="doc_id")
    assert [d.id for d in _docs(items)] == [f"src:{path}:cc-1", f"src:{path}:7"]
    assert [(e.position, e.error) for e in items if isinstance(e, ReadError)] == [
        (3, "missing_id"),
        (4, "duplicate_id"),
        (5, "missing_id"),
    ]
    assert [d.id for d in _docs(_read(path))][:2] == [f"src:{path}:1", f"src:{path}:2"]  # default: line numbers


def test_parquet_records_own_ids_name_the_documents(tmp_path):
    path = tmp_path / "docs.parquet"
    pq.write_table(pa.table({"text": ["a", "b", "c"], "key": ["k1", None, "k1"]}), path)
    items = _read(path, id_field="key")
    assert [d.id for d in _docs(items)] == [f"src:{path}:k1"]
    assert _errors(items) == ["missing_id", "duplicate_id"]
    assert _errors(_read(path, id_field="nope")) == ["missing_id"]  # no such column: one dead letter


def test_empty_binary_and_unreadable_files_are_dead_letters(tmp_path):
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "junk.bin").write_bytes(b"\x7fELF\x00\x00\x00" + bytes(range(256)) * 4)
    assert _errors(_read(tmp_path / "empty.txt")) == ["empty_document"]
    assert _errors(_read(tmp_path / "junk.bin")) == ["binary_content"]
    assert _errors(_read(tmp_path / "missing.txt")) == ["unreadable_file"]


def test_oversized_whole_file_is_a_dead_letter(tmp_path):
    (tmp_path / "giant.txt").write_bytes(b"word " * 1000)
    assert _errors(_read(tmp_path / "giant.txt", max_document_bytes=1000)) == ["document_too_large"]


def test_kind_override_skips_sniffing(tmp_path):
    path = tmp_path / "page.txt"
    path.write_bytes(b"<html><body><p>hello</p></body></html>")
    assert _docs(_read(path))[0].kind == "html"
    assert _docs(_read(path, kind="text"))[0].kind == "text"
