"""WARC/WET/ARC reading on the real files in corpora/web/warc (see SOURCES.md there)."""

from __future__ import annotations

import gzip
import io
import re
import uuid
import zlib
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator as WarcioIterator

from transforms.readers import FileRange, InputSpec, ReadConfig, read_file, read_range, split_file
from transforms.records import RawDocument, ReadError
from transforms.warc import Skipped, iter_warc_records, looks_like_warc

WARCIO_DATA = "web/warc/webrecorder__warcio/test/data"
RESILIPARSE_DATA = "web/warc/chatnoir-eu__chatnoir-resiliparse/tests/data"
DOLMA_DATA = "web/warc/allenai__dolma/tests/data/warc"
WHIRLWIND = "web/warc/commoncrawl__whirlwind-python"


def read_all(path: Path) -> list:
    with path.open("rb") as stream:
        return list(iter_warc_records(stream, "web", str(path)))


def documents(items: list) -> list[RawDocument]:
    return [item for item in items if isinstance(item, RawDocument)]


def errors(items: list) -> list[ReadError]:
    return [item for item in items if isinstance(item, ReadError)]


def warcio_record_count(path: Path) -> int:
    with path.open("rb") as stream:
        return sum(1 for _ in WarcioIterator(stream, arc2warc=True))


def test_every_corpus_file_reads_without_exception_into_known_item_types(corpora):
    files = sorted(p for p in (corpora / "web" / "warc").rglob("*") if p.is_file())
    assert len(files) == 12
    for path in files:
        items = read_all(path)
        assert items, path
        assert all(isinstance(item, (RawDocument, Skipped, ReadError)) for item in items)
        assert len({item.position for item in items if not isinstance(item, ReadError)}) == len(
            [item for item in items if not isinstance(item, ReadError)]
        ), f"positions must be distinct record offsets in {path}"


def test_every_corpus_file_is_sniffed_as_warc(corpora):
    for path in (corpora / "web" / "warc").rglob("*"):
        if path.is_file():
            assert looks_like_warc(path.read_bytes()[:512]), path


def test_html_and_gzipped_non_warc_are_not_sniffed_as_warc(corpora):
    page = corpora / "web/html/adbar__trafilatura/tests/cache/stuttgart.de.html"
    assert not looks_like_warc(page.read_bytes()[:512])
    assert not looks_like_warc(gzip.compress(page.read_bytes())[:512])
    assert not looks_like_warc(b"")


def test_clipped_gzip_member_becomes_truncated_gzip_error(corpora):
    items = read_all(corpora / RESILIPARSE_DATA / "clipped.warc.gz")
    assert [type(item) for item in items] == [ReadError]
    error = items[0]
    assert error.error == "truncated_gzip"
    assert error.position == 0
    assert "houstonpress.com" in error.message
    assert error.excerpt


def test_a_record_whose_block_overruns_its_content_length_is_a_dead_letter_and_the_next_record_is_read(corpora):
    # warcio's example-trunc.warc: the response's block is 2 bytes shorter than its Content-Length,
    # so the next header does not start where the response says it ends.
    items = read_all(corpora / WARCIO_DATA / "example-trunc.warc")
    assert documents(items) == []
    [error] = errors(items)
    assert error.error == "content_length_mismatch"
    assert "Invalid WARC header" in error.message
    assert error.excerpt
    assert isinstance(items[-1], Skipped) and items[-1].reason == "record_type:request"
    assert items[-1].position > error.position


def test_chunked_transfer_encoding_is_removed_from_iana_page(corpora):
    [document] = documents(read_all(corpora / WARCIO_DATA / "example-iana.org-chunked.warc"))
    html = document.data.decode("utf-8")
    assert document.kind == "html"
    assert document.declared_charset == "utf-8"
    assert html.lstrip().lower().startswith("<!doctype html>")
    assert html.rstrip().endswith("</html>")
    assert not re.search(r"^[0-9a-fA-F]+\r?$", html, re.MULTILINE), "chunk-size line left in HTML"


@pytest.mark.parametrize(
    "relative",
    [
        f"{DOLMA_DATA}/sample-0000.warc.gz",
        f"{DOLMA_DATA}/sample-0001.warc.gz",
        f"{WARCIO_DATA}/example-wget-bad-target-uri.warc.gz",
    ],
)
def test_angle_brackets_that_wget_writes_are_stripped_from_urls(corpora, relative):
    docs = documents(read_all(corpora / relative))
    assert docs
    for document in docs:
        assert document.url.startswith(("http://", "https://")), document.url
        assert "<" not in document.url and ">" not in document.url


@pytest.mark.parametrize(
    "relative",
    [
        f"{DOLMA_DATA}/sample-0000.warc.gz",
        f"{RESILIPARSE_DATA}/warcfile.warc.gz",
        f"{WARCIO_DATA}/example.warc.gz",
        f"{WHIRLWIND}/whirlwind.warc.gz",
    ],
)
def test_one_item_per_record_matches_warcio_count(corpora, relative):
    path = corpora / relative
    items = read_all(path)
    assert not errors(items)
    assert len(items) == warcio_record_count(path)


def test_response_records_become_html_documents_and_the_rest_is_skipped_with_reason(corpora):
    items = read_all(corpora / RESILIPARSE_DATA / "warcfile.warc.gz")
    docs = documents(items)
    assert len(docs) == 16  # SOURCES.md: 16 response records
    assert all(d.kind == "html" and isinstance(d.data, bytes) for d in docs)
    assert {d.declared_charset for d in docs} >= {"utf-8", "windows-1251", "gb2312", None}
    reasons = {item.reason for item in items if isinstance(item, Skipped)}
    assert reasons == {"record_type:warcinfo", "record_type:request", "record_type:metadata"}


def test_whirlwind_wet_gives_one_utf8_text_document(corpora):
    items = read_all(corpora / WHIRLWIND / "whirlwind.warc.wet.gz")
    [document] = documents(items)
    assert document.kind == "text"
    assert document.url == "https://an.wikipedia.org/wiki/Escopete"
    assert document.declared_charset == "utf-8"
    assert "Escopete" in document.data.decode("utf-8")


def test_whirlwind_wat_holds_no_documents(corpora):
    items = read_all(corpora / WHIRLWIND / "whirlwind.warc.wat.gz")
    assert not documents(items) and not errors(items)


def test_legacy_arc_file_yields_its_html_document(corpora):
    items = read_all(corpora / WARCIO_DATA / "example.arc.gz")
    [document] = documents(items)
    assert not errors(items)
    assert document.kind == "html"
    assert document.url == "http://example.com/"
    assert document.position > 0
    assert b"<title>Example Domain</title>" in document.data


def test_whole_file_gzip_reads_like_the_plain_file_with_decompressed_offsets(corpora):
    plain = (corpora / WARCIO_DATA / "example-iana.org-chunked.warc").read_bytes()
    expected = list(iter_warc_records(io.BytesIO(plain), "web", "x"))
    assert list(iter_warc_records(io.BytesIO(gzip.compress(plain)), "web", "x")) == expected


def test_whole_file_gzip_cut_short_keeps_records_before_the_cut(corpora):
    plain = (corpora / WARCIO_DATA / "example-iana.org-chunked.warc").read_bytes()
    items = list(iter_warc_records(io.BytesIO(gzip.compress(plain)[:2000]), "web", "x"))
    assert isinstance(items[0], Skipped)  # the warcinfo record before the cut
    assert items[-1].error == "truncated_gzip"


def test_per_record_gzip_cut_between_members_keeps_records_before_the_cut(corpora):
    data = (corpora / DOLMA_DATA / "sample-0000.warc.gz").read_bytes()
    items = list(iter_warc_records(io.BytesIO(data[:50_000]), "web", "x"))
    assert len(documents(items)) >= 5
    assert items[-1].error == "truncated_gzip"


@pytest.mark.parametrize(
    "data, error",
    [
        (b"not a warc at all\r\n\r\n", "malformed_warc"),
        (b"\x1f\x8b\x08 corrupt gzip", "corrupt_gzip"),
        (b"WARC/1.0\r\nWARC-Type: response\r\nWARC-Target-", "truncated_record"),
    ],
)
def test_garbage_input_becomes_a_read_error(data, error):
    items = list(iter_warc_records(io.BytesIO(data), "web", "x"))
    assert [item.error for item in items] == [error]


def test_empty_file_yields_nothing():
    assert list(iter_warc_records(io.BytesIO(b""), "web", "x")) == []


# ---------------------------------------------------------------------------
# Large files in ranges (transforms.readers.split_file / read_range)


def read_whole_and_in_ranges(path: Path, split_bytes: int) -> tuple[list, list[FileRange], list]:
    """(read_file's items, split_file's ranges, the items of read_range over them in order)."""
    spec, config = InputSpec(name="web", glob=str(path)), ReadConfig(split_bytes=split_bytes)
    ranges = split_file(spec, str(path), config)
    assert ranges[0].start == 0 and ranges[-1].stop is None
    assert [part.stop for part in ranges[:-1]] == [part.start for part in ranges[1:]]
    in_ranges = [item for part in ranges for item in read_range(spec, part, config)]
    return list(read_file(spec, str(path), config)), ranges, in_ranges


def warc_record(record_type: str, uri: str, content_type: str, block: bytes) -> bytes:
    header = (
        f"WARC/1.0\r\nWARC-Type: {record_type}\r\nWARC-Target-URI: {uri}\r\n"
        f"WARC-Date: 2024-01-01T00:00:00Z\r\nWARC-Record-ID: <urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, uri)}>\r\n"
        f"Content-Type: {content_type}\r\nContent-Length: {len(block)}\r\n\r\n"
    )
    return header.encode() + block + b"\r\n\r\n"


@pytest.fixture(scope="module")
def plain_sample(corpora, tmp_path_factory) -> Path:
    """dolma's sample-0000.warc.gz (48 records, gzip per record) decompressed: a plain WARC."""
    path = tmp_path_factory.mktemp("plain") / "sample-0000.warc"
    path.write_bytes(gzip.decompress((corpora / DOLMA_DATA / "sample-0000.warc.gz").read_bytes()))
    return path


@pytest.mark.parametrize("split_bytes", [1, 1000, 4096, 30_000])
def test_every_corpus_file_read_in_ranges_gives_the_items_of_the_whole_file(corpora, plain_sample, split_bytes):
    files = sorted(p for p in (corpora / "web" / "warc").rglob("*") if p.is_file()) + [plain_sample]
    for path in files:
        whole, ranges, in_ranges = read_whole_and_in_ranges(path, split_bytes)
        assert in_ranges == whole, (path, split_bytes)
    assert len(read_whole_and_in_ranges(plain_sample, split_bytes)[1]) > 1


@pytest.mark.parametrize("name", ["sample-0000.warc.gz", "sample-0000.warc"])
def test_ranges_start_on_record_offsets_plain_and_gzip_per_record(corpora, plain_sample, name):
    path = plain_sample if name.endswith(".warc") else corpora / DOLMA_DATA / name
    whole, ranges, in_ranges = read_whole_and_in_ranges(path, split_bytes=1)
    assert len(whole) == 48 and not errors(whole)
    assert [part.start for part in ranges] == [item.position for item in whole]  # one record a range
    whole, ranges, in_ranges = read_whole_and_in_ranges(path, split_bytes=20_000)
    assert {part.start for part in ranges} < {item.position for item in whole}
    assert in_ranges == whole


def test_record_longer_than_split_bytes_ends_the_range_it_starts_in(plain_sample):
    whole, ranges, in_ranges = read_whole_and_in_ranges(plain_sample, split_bytes=10_000)
    starts = [item.position for item in whole]
    long_records = [(start, end) for start, end in zip(starts, starts[1:]) if end - start > 10_000]
    assert long_records
    for start, end in long_records:
        [part] = [part for part in ranges if part.start <= start < part.stop]
        assert part.stop == end
    assert in_ranges == whole


def test_a_warc_file_inside_a_payload_is_never_a_split_point(corpora, tmp_path):
    inner = (corpora / WARCIO_DATA / "example-iana.org-chunked.warc").read_bytes()  # headers and all
    records = [
        warc_record("resource", "http://a.example/one.txt", "text/plain", b"first document\n"),
        warc_record("resource", "http://a.example/crawl.warc", "text/plain", inner),
        warc_record("resource", "http://a.example/three.txt", "text/plain", b"third document\n"),
    ]
    path = tmp_path / "outer.warc"
    path.write_bytes(b"".join(records))
    (tmp_path / "outer.warc.gz").write_bytes(b"".join(gzip.compress(record) for record in records))
    for name in ("outer.warc", "outer.warc.gz"):
        whole, ranges, in_ranges = read_whole_and_in_ranges(tmp_path / name, split_bytes=1)
        assert [d.url for d in documents(whole)] == [
            "http://a.example/one.txt",
            "http://a.example/crawl.warc",
            "http://a.example/three.txt",
        ]
        assert [part.start for part in ranges] == [item.position for item in whole]
        assert in_ranges == whole


def test_cut_gzip_per_record_file_in_ranges_keeps_records_and_reports_the_cut_once(corpora, tmp_path):
    path = tmp_path / "cut.warc.gz"
    path.write_bytes((corpora / DOLMA_DATA / "sample-0000.warc.gz").read_bytes()[:50_000])
    whole, ranges, in_ranges = read_whole_and_in_ranges(path, split_bytes=5000)
    assert len(ranges) > 1
    assert in_ranges == whole
    assert [e.error for e in errors(in_ranges)] == ["truncated_gzip"]


def test_arc_and_whole_file_gzip_warc_are_not_split(corpora, tmp_path):
    arc = corpora / WARCIO_DATA / "example.arc.gz"
    (tmp_path / "example.arc").write_bytes(gzip.decompress(arc.read_bytes()))
    plain = (corpora / WARCIO_DATA / "example-iana.org-chunked.warc").read_bytes()
    (tmp_path / "whole.warc.gz").write_bytes(gzip.compress(plain))
    for path in (arc, tmp_path / "example.arc", tmp_path / "whole.warc.gz"):
        whole, ranges, in_ranges = read_whole_and_in_ranges(path, split_bytes=1)
        assert ranges == [FileRange(str(path))]
        assert documents(whole) and in_ranges == whole


def gzip_members(data: bytes) -> list[int]:
    """The offsets of the gzip members of a gzip-per-record file."""
    offsets, position = [], 0
    while position < len(data):
        offsets.append(position)
        inflater = zlib.decompressobj(wbits=31)
        inflater.decompress(data[position:])
        position = len(data) - len(inflater.unused_data)
    return offsets


def test_a_corrupt_or_over_budget_gzip_member_costs_its_record_and_the_next_members_are_read(corpora):
    """Dolma's sample: 48 records, one gzip member each. One member gets bytes flipped inside its
    deflate data; before another, a member that inflates to 16 MiB of zeros (no record) is spliced
    in. Each is one dead letter at its member's offset; every other record is read as before."""
    original = (corpora / DOLMA_DATA / "sample-0000.warc.gz").read_bytes()
    members = gzip_members(original)
    assert len(members) == 48
    corrupt, bombed = 16, 30
    damaged = bytearray(original)
    middle = (members[corrupt] + members[corrupt + 1]) // 2
    damaged[middle : middle + 8] = bytes(b ^ 0xFF for b in damaged[middle : middle + 8])
    bomb = gzip.compress(bytes(16 * 2**20))
    damaged[members[bombed] : members[bombed]] = bomb

    def summary(data: bytes, max_bytes: int) -> list[tuple[str, int, str]]:
        items = iter_warc_records(io.BytesIO(data), "web", "sample", max_bytes=max_bytes)
        return [(type(item).__name__, item.position, getattr(item, "url", "")) for item in items]

    before = summary(original, 2**20)
    after = summary(bytes(damaged), 2**20)
    shifted = [(kind, at + len(bomb) if at >= members[bombed] else at, url) for kind, at, url in before]
    expected = shifted[:corrupt] + [("ReadError", members[corrupt], "")] + shifted[corrupt + 1 : bombed]
    expected += [("ReadError", members[bombed], "")] + shifted[bombed:]
    assert after == expected
    errors_found = [item for item in iter_warc_records(io.BytesIO(bytes(damaged)), "web", "s", max_bytes=2**20)]
    assert [e.error for e in errors_found if isinstance(e, ReadError)] == ["corrupt_gzip", "malformed_warc"]
