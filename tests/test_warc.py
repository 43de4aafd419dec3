"""WARC/WET/ARC reading on the real files in corpora/web/warc (see SOURCES.md there)."""

from __future__ import annotations

import gzip
import io
import re
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator as WarcioIterator

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


def test_truncated_record_yields_records_before_it_then_malformed_warc_error(corpora):
    items = read_all(corpora / WARCIO_DATA / "example-trunc.warc")
    [document] = documents(items)
    assert document.url == "http://example.com/"
    assert b"Example Domain" in document.data  # the gzip content coding was undone
    [error] = errors(items)
    assert error.error == "malformed_warc"
    assert error.position > document.position
    assert items[-1] is error
    assert error.excerpt


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
