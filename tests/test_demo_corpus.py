"""The demo corpus in examples/corpus is what MANIFEST.sha256 says it is, and its WARC is
reproducible from the committed pages with scripts/build_demo_corpus.py."""

import importlib.util
import io
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
CORPUS = REPO_ROOT / "examples" / "corpus"


def _load_builder():
    spec = importlib.util.spec_from_file_location("build_demo_corpus", REPO_ROOT / "scripts" / "build_demo_corpus.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


builder = _load_builder()


def test_manifest_lists_exactly_the_data_files_on_disk():
    listed = set(builder.read_manifest(CORPUS))
    on_disk = set(builder.data_files(CORPUS))
    assert on_disk - listed == set(), "files not in MANIFEST.sha256"
    assert listed - on_disk == set(), "MANIFEST.sha256 entries with no file"


def test_every_data_file_matches_its_manifest_sha256():
    mismatched = [
        relative
        for relative, digest in builder.read_manifest(CORPUS).items()
        if builder.sha256_of(CORPUS / relative) != digest
    ]
    assert mismatched == []


def test_manifest_covers_every_book_page_and_the_warc():
    listed = set(builder.read_manifest(CORPUS))
    expected = {f"books/{name}" for name in builder.BOOKS}
    expected |= {f"web/python-docs/{page}" for page in builder.PAGES}
    expected |= {f"web/python-docs/{builder.DOCS_LICENCE_NAME}", f"web/{builder.WARC_NAME}"}
    assert listed == expected


def test_sources_md_names_every_book_and_the_manifest():
    sources = (CORPUS / "SOURCES.md").read_text(encoding="utf-8")
    for name in (*builder.BOOKS, builder.MANIFEST_NAME, builder.WARC_NAME, builder.DOCS_LICENCE_NAME):
        assert name in sources


def test_corpus_stays_a_few_megabytes():
    total = sum((CORPUS / relative).stat().st_size for relative in builder.data_files(CORPUS))
    assert 2_000_000 <= total <= 8_000_000, f"corpus is {total:,} bytes"


def test_warc_rebuilds_byte_identically_from_committed_pages(tmp_path):
    pytest.importorskip("warcio", reason="warcio is needed to rebuild the WARC")
    rebuilt = tmp_path / builder.WARC_NAME
    builder.main(["--corpus", str(CORPUS), "warc", "--out", str(rebuilt)])
    assert rebuilt.read_bytes() == (CORPUS / "web" / builder.WARC_NAME).read_bytes()


def test_warc_holds_one_unchanged_response_per_listed_page():
    pytest.importorskip("warcio", reason="warcio is needed to read the WARC")
    from warcio.archiveiterator import ArchiveIterator

    data = (CORPUS / "web" / builder.WARC_NAME).read_bytes()
    records = []
    for record in ArchiveIterator(io.BytesIO(data)):
        records.append(
            (
                record.rec_type,
                record.rec_headers.get_header("WARC-Target-URI"),
                record.http_headers and record.http_headers.get_statuscode(),
                record.content_stream().read(),
            )
        )
    assert records[0][0] == "warcinfo"
    pages_dir = builder.pages_dir(CORPUS)
    assert records[1:] == [
        ("response", builder.page_url(page), "200", (pages_dir / page).read_bytes()) for page in builder.WARC_PAGES
    ]
