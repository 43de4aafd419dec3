"""Readers, without Beam: sniffing, each container kind, and bad input."""

import bisect
import gzip
import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from transforms.encoding import decode_bytes
from transforms.readers import (
    FileRange,
    InputSpec,
    ReadConfig,
    read_file,
    read_range,
    sniff_kind,
    split_file,
    streamed_parquet,
)
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
        ("Call me Ishmael.\n".encode("utf-16-le"), "text"),  # and without a BOM
        ("<html><body>Grüße</body></html>".encode("utf-16-be"), "html"),
        ("<!DOCTYPE html>\n<html>".encode("utf-32-le"), "html"),
    ],
)
def test_sniff_kind_recognises_each_container(head, kind):
    assert sniff_kind(head) == kind


def test_utf16_file_without_bom_is_read_as_a_document_not_a_dead_letter(tmp_path):
    text = "Call me Ishmael. Некоторые годы назад — 有些年前\n"
    (tmp_path / "book.txt").write_bytes(text.encode("utf-16-le"))
    [doc] = _read(tmp_path / "book.txt")
    assert doc.kind == "text"
    assert decode_bytes(doc.data).text == text


def test_plain_and_gzipped_text_files_are_one_document_each(tmp_path):
    (tmp_path / "book").write_bytes(b"Call me Ishmael.\r\n")
    (tmp_path / "book.txt.gz").write_bytes(gzip.compress(b"Call me Ishmael.\r\n"))
    for name in ("book", "book.txt.gz"):
        [doc] = _read(tmp_path / name)
        assert (doc.kind, doc.data, doc.position) == ("text", b"Call me Ishmael.\r\n", 0)
        assert doc.id == f"src:{name}:0"  # the path below the input's root: here the file alone


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
    assert [d.id for d in _docs(items)] == ["src:docs.jsonl:cc-1", "src:docs.jsonl:7"]
    assert [(e.position, e.error) for e in items if isinstance(e, ReadError)] == [
        (3, "missing_id"),
        (4, "duplicate_id"),
        (5, "missing_id"),
    ]
    assert [d.id for d in _docs(_read(path))][:2] == ["src:docs.jsonl:1", "src:docs.jsonl:2"]  # default: line numbers


def test_parquet_records_own_ids_name_the_documents(tmp_path):
    path = tmp_path / "docs.parquet"
    pq.write_table(pa.table({"text": ["a", "b", "c"], "key": ["k1", None, "k1"]}), path)
    items = _read(path, id_field="key")
    assert [d.id for d in _docs(items)] == ["src:docs.parquet:k1"]
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


# ---------------------------------------------------------------------------
# Large files in ranges: split_file, read_range


def _read_in_ranges(path, kind="auto", **config):
    """(split_file's ranges, the items of read_range over them, in order)."""
    spec, settings = InputSpec(name="src", glob=str(path), kind=kind), ReadConfig(**config)
    ranges = split_file(spec, str(path), settings)
    return ranges, [item for part in ranges for item in read_range(spec, part, settings)]


def _assert_ranges_tile_the_file(ranges):
    assert ranges[0].start == 0 and ranges[-1].stop is None
    assert [part.stop for part in ranges[:-1]] == [part.start for part in ranges[1:]]
    assert len({part.path for part in ranges}) == 1


def _jsonl_lines(n):
    """Lines of varied lengths, with an empty line, a bad line and a line without text among them."""
    lines = [
        json.dumps({"text": f"document {i} " + "word " * (i % 17), "url": f"https://x.example/{i}"}) for i in range(n)
    ]
    lines[3], lines[7], lines[11] = "", "{not json", json.dumps({"body": "no text"})
    return lines


@pytest.mark.parametrize("split_bytes", [1, 7, 60, 61, 100, 333, 5000])
def test_jsonl_ranges_read_every_line_once_with_the_whole_files_line_numbers(tmp_path, split_bytes):
    path = tmp_path / "docs.jsonl"
    path.write_text("\n".join(_jsonl_lines(40)) + "\n")
    whole = _read(path)
    ranges, items = _read_in_ranges(path, split_bytes=split_bytes)
    _assert_ranges_tile_the_file(ranges)
    assert items == whole
    if split_bytes < path.stat().st_size:
        assert len(ranges) > 1


def test_jsonl_range_cut_anywhere_starts_with_the_first_line_that_starts_at_or_after_the_cut(tmp_path):
    path = tmp_path / "docs.jsonl"
    data = ("\n".join(_jsonl_lines(12)) + "\n\n" + json.dumps({"text": "no final newline"})).encode()
    path.write_bytes(data)
    spec, config = InputSpec(name="src", glob=str(path)), ReadConfig()
    whole = _read(path)
    line_starts = [0] + [i + 1 for i, byte in enumerate(data) if byte == ord("\n")]
    for cut in range(len(data) + 1):  # inside lines, on each newline, just after it, at both ends
        first_line = bisect.bisect_left(line_starts, cut) + 1
        before = list(read_range(spec, FileRange(str(path), 0, cut), config))
        after = list(read_range(spec, FileRange(str(path), cut, None, first_line), config))
        assert before + after == whole, cut


def test_many_tiny_jsonl_lines_in_many_ranges(tmp_path):
    path = tmp_path / "tiny.jsonl"
    path.write_text("".join(json.dumps({"text": str(i)}) + "\n" for i in range(2000)))
    ranges, items = _read_in_ranges(path, split_bytes=50)
    assert len(ranges) > 300
    assert items == _read(path)
    assert [d.position for d in _docs(items)] == list(range(1, 2001))


def test_jsonl_line_longer_than_a_range_is_read_once_by_the_range_it_starts_in(tmp_path):
    path = tmp_path / "long.jsonl"
    lines = [json.dumps({"text": "a" * 120}), json.dumps({"text": "long " * 2000}), json.dumps({"text": "b"})]
    path.write_text("\n".join(lines) + "\n")
    ranges, items = _read_in_ranges(path, split_bytes=100)
    assert [(part.start, part.first_line) for part in ranges] == [
        (0, 1),
        (len(lines[0]) + 1, 2),
        (len(lines[0]) + len(lines[1]) + 2, 3),
    ]
    assert [d.position for d in _docs(items)] == [1, 2, 3]
    assert items == _read(path)


def test_oversized_jsonl_line_across_range_boundaries_is_one_dead_letter(tmp_path):
    path = tmp_path / "big.jsonl"
    path.write_text("".join(json.dumps({"text": t}) + "\n" for t in ["a", "x" * 5000, "b", "c"]))
    ranges, items = _read_in_ranges(path, split_bytes=1000, max_document_bytes=1000)
    assert len(ranges) == 2
    assert items == _read(path, max_document_bytes=1000)
    assert _errors(items) == ["document_too_large"]
    assert [d.data for d in _docs(items)] == ["a", "b", "c"]


def test_real_jsonl_in_ranges_reads_as_the_whole_file(corpora):
    for path in sorted((corpora / "jsonl").rglob("*.jsonl")):
        ranges, items = _read_in_ranges(path, split_bytes=4096)
        assert len(ranges) > 1, path
        _assert_ranges_tile_the_file(ranges)
        assert items == _read(path)


def _multi_group_parquet(path, rows=95, group_rows=10):
    texts = [None if i % 13 == 5 else f"row {i} " + "text " * (i % 7) for i in range(rows)]
    table = pa.table({"text": texts, "url": [f"u{i}" for i in range(rows)]})
    pq.write_table(table, path, row_group_size=group_rows)


@pytest.mark.parametrize("split_bytes", [1, 200, 1000])
def test_parquet_ranges_of_row_groups_read_every_row_once_with_global_row_indices(tmp_path, split_bytes):
    path = tmp_path / "docs.parquet"
    _multi_group_parquet(path)
    ranges, items = _read_in_ranges(path, split_bytes=split_bytes)
    _assert_ranges_tile_the_file(ranges)
    assert len(ranges) > 1
    assert items == _read(path)
    assert [d.position for d in _docs(items)] == [i for i in range(95) if i % 13 != 5]
    if split_bytes == 1:
        assert [part.start for part in ranges] == list(range(10))  # one range per row group


def test_parquet_with_one_row_group_is_one_range(tmp_path):
    path = tmp_path / "docs.parquet"
    _multi_group_parquet(path, rows=50, group_rows=100)
    assert split_file(InputSpec(name="src", glob=str(path)), str(path), ReadConfig(split_bytes=1)) == [
        FileRange(str(path))
    ]


def test_parquet_missing_text_column_is_one_dead_letter_however_it_is_split(tmp_path):
    path = tmp_path / "docs.parquet"
    pq.write_table(pa.table({"body": [f"b{i}" for i in range(50)]}), path, row_group_size=10)
    ranges, items = _read_in_ranges(path, split_bytes=1)
    assert len(ranges) == 5
    assert _errors(items) == ["missing_text"]


def test_files_that_are_not_split(tmp_path):
    lines = "".join(json.dumps({"text": f"doc {i}", "id": i}) + "\n" for i in range(100))
    (tmp_path / "docs.jsonl").write_text(lines)
    (tmp_path / "docs.jsonl.gz").write_bytes(gzip.compress(lines.encode()))
    (tmp_path / "docs.jsonl.zst").write_bytes(zstandard.ZstdCompressor().compress(lines.encode()))
    (tmp_path / "book.txt").write_text("Call me Ishmael.\n" * 100)
    (tmp_path / "page.html").write_text("<html><body>" + "<p>hello</p>\n" * 100 + "</body></html>")
    _multi_group_parquet(tmp_path / "docs.parquet")
    for name, config in [
        ("docs.jsonl", {"split_bytes": 10**6}),  # no larger than a range
        ("docs.jsonl.gz", {"id_field": "id"}),  # a compressed stream cannot be entered mid-way, ids or not
        ("docs.jsonl.zst", {}),
        ("book.txt", {}),  # one document
        ("page.html", {}),
        ("missing.jsonl", {}),  # its one range reports it unreadable
    ]:
        path = tmp_path / name
        ranges, items = _read_in_ranges(path, **{"split_bytes": 10, **config})
        assert ranges == [FileRange(str(path))], name
        assert items == _read(path, **config)
    assert (
        len(split_file(InputSpec(name="src", glob="x"), str(tmp_path / "docs.jsonl"), ReadConfig(split_bytes=10))) > 1
    )


def test_a_range_past_the_start_of_a_whole_document_file_reads_nothing(tmp_path):
    path = tmp_path / "book.txt"
    path.write_text("Call me Ishmael.\n")
    spec = InputSpec(name="src", glob=str(path))
    assert list(read_range(spec, FileRange(str(path), 5, None), ReadConfig())) == []
    assert _docs(list(read_range(spec, FileRange(str(path)), ReadConfig())))


def test_split_bytes_must_be_positive():
    assert ReadConfig(split_bytes=0).problems() == ["read.split_bytes: 0 must be > 0"]


def test_streamed_parquet_holds_one_row_group_at_a_time(tmp_path):
    # pyarrow's default pre-buffering kept every row group read so far: memory grew with the file.
    path = tmp_path / "docs.parquet"
    row_group_bytes, row_groups = 1 << 20, 24
    rng = np.random.default_rng(0)
    with pq.ParquetWriter(path, pa.schema([("text", pa.string())]), compression="none") as writer:
        for _ in range(row_groups):
            text = rng.integers(ord("a"), ord("z"), row_group_bytes, dtype=np.uint8).tobytes().decode()
            writer.write_table(pa.table({"text": [text]}))
    held = []
    for _ in streamed_parquet(str(path)).iter_batches(batch_size=1, columns=["text"]):
        held.append(pa.total_allocated_bytes())
    assert len(held) == row_groups
    assert max(held) < 4 * row_group_bytes


@pytest.mark.parametrize(
    "glob, path, relative",
    [
        ("corpus/books/*.txt", "corpus/books/alice.txt", "alice.txt"),
        ("/data/web/**", "/data/web/a/b/page.html", "a/b/page.html"),
        ("gs://bucket/crawl/2024-*/*.warc.gz", "gs://bucket/crawl/2024-01/x.warc.gz", "2024-01/x.warc.gz"),
        ("/data/b?oks/*.txt", "/data/books/alice.txt", "books/alice.txt"),
        ("*.jsonl", "part.jsonl", "part.jsonl"),
        ("/data/books/alice.txt", "/data/books/alice.txt", "alice.txt"),  # one file: its name
        ("/data/web", "/data/web/a/page.html", "a/page.html"),  # a directory: the path below it
        ("gs://bucket/web/", "gs://bucket/web/page.html", "page.html"),
    ],
)
def test_relative_path_is_below_the_globs_root(glob, path, relative):
    assert InputSpec(name="src", glob=glob).relative_path(path) == relative


def test_the_same_files_under_two_roots_give_the_same_records(tmp_path):
    for root in ("here", "there/deeper"):
        (tmp_path / root / "sub").mkdir(parents=True)
        (tmp_path / root / "sub" / "docs.jsonl").write_text('{"text": "one"}\n{"text": 2}\n')
    records = []
    for root in ("here", "there/deeper"):
        spec = InputSpec(name="src", glob=f"{tmp_path / root}/**")
        [matched] = spec.matched_files()
        records.append(list(read_file(spec, matched.path, ReadConfig())))
    assert records[0] == records[1]
    assert [item.path for item in records[0]] == ["sub/docs.jsonl"] * 2
    assert _docs(records[0])[0].id == "src:sub/docs.jsonl:1"


def test_a_directory_input_names_every_file_below_it(tmp_path):
    (tmp_path / "web" / "deep" / "deeper").mkdir(parents=True)
    for name in ("a.html", "deep/b.txt", "deep/deeper/c.jsonl"):
        (tmp_path / "web" / name).write_text("x")
    for glob in (str(tmp_path / "web"), f"{tmp_path / 'web'}/"):
        spec = InputSpec(name="web", glob=glob)
        assert sorted(spec.relative_path(m.path) for m in spec.matched_files()) == [
            "a.html",
            "deep/b.txt",
            "deep/deeper/c.jsonl",
        ]
    single = InputSpec(name="web", glob=str(tmp_path / "web" / "a.html"))
    assert [m.path for m in single.matched_files()] == [single.glob]
    (tmp_path / "empty").mkdir()  # names no file (prepare: "matches no file"), not itself as one
    assert InputSpec(name="web", glob=str(tmp_path / "empty")).matched_files() == []
