"""Hostile input never ends a job, and never takes a worker's memory (issue 14, the reader half).

Each bad input is tested on the path `prepare` takes (transforms.readers.read_range, then
transforms.clean.clean_document): the bad record is a dead letter with a clear reason, and the
good records around it are kept. The decompression bombs run in a process of their own under an
address-space limit (`run_under_memory_limit`). `bad_run` prepares a directory of all these files
once, end to end, to check the funnel. The fuzz test over mutated real files is
tests/test_fuzz_readers.py.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import textwrap
import uuid
import zlib
from collections import Counter
from pathlib import Path

import brotli
import pyarrow.parquet as pq
import pytest

from pipeline.config import Config
from pipeline.prepare import run_prepare
from tests.helpers import IN_MEMORY, REPO_ROOT
from transforms.clean import CleanConfig, Dropped, clean_document
from transforms.filters.stage import SourceSteps
from transforms.readers import InputSpec, ReadConfig, read_file
from transforms.records import RawDocument, ReadError

SMALL_LIMIT = 1024 * 1024  # read.max_document_bytes in the bomb tests: bombs of 64 MiB are 64x over it
BOMB_BYTES = 64 * 1024 * 1024
# Address space a bomb test may add to what its process has once the readers are imported:
# a bounded reader needs a few MiB; an unbounded one, the whole bomb.
MEMORY_GUARD_BYTES = 48 * 1024 * 1024

GOOD_PAGE = (
    b"<html><body><article>"
    + b"<p>A good page that stays in the corpus, paragraph %d.</p>" * 6
    + b"</article></body></html>"
)


def page(n: int) -> bytes:
    return GOOD_PAGE.replace(b"%d", str(n).encode())


def warc_record(uri: str, block: bytes, record_type: str = "response", content_length: int | None = None) -> bytes:
    """One WARC record; `content_length` overrides the true one (a lying header)."""
    content_type = "application/http; msgtype=response" if record_type == "response" else "text/plain"
    header = (
        f"WARC/1.0\r\nWARC-Type: {record_type}\r\nWARC-Target-URI: {uri}\r\n"
        f"WARC-Date: 2024-01-01T00:00:00Z\r\nWARC-Record-ID: <urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, uri)}>\r\n"
        f"Content-Type: {content_type}\r\nContent-Length: {len(block) if content_length is None else content_length}"
        "\r\n\r\n"
    )
    return header.encode() + block + b"\r\n\r\n"


def http_response(body: bytes, content_encoding: str = "") -> bytes:
    coding = f"Content-Encoding: {content_encoding}\r\n" if content_encoding else ""
    head = f"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n{coding}Content-Length: {len(body)}\r\n\r\n"
    return head.encode() + body


def zeros_compressed(codec: str, size: int = BOMB_BYTES) -> bytes:
    """`size` zero bytes compressed with `codec` ("gzip", "deflate", "br"): a few KB to 300 KB."""
    zeros = bytes(1024 * 1024)
    if codec == "br":
        compressor = brotli.Compressor(quality=1)
        return b"".join(compressor.process(zeros) for _ in range(size // len(zeros))) + compressor.finish()
    compressor = zlib.compressobj(1, zlib.DEFLATED, 31 if codec == "gzip" else 15)
    return b"".join(compressor.compress(zeros) for _ in range(size // len(zeros))) + compressor.flush()


def bomb_files(directory: Path) -> dict[str, Path]:
    """WARC files in which a bad record sits between two good pages."""
    directory.mkdir(parents=True, exist_ok=True)
    files = {}
    for codec in ("gzip", "deflate", "br"):
        bomb = warc_record(f"http://bomb/{codec}", http_response(zeros_compressed(codec), codec))
        files[f"http_{codec}"] = bomb
    # A text payload over the limit as stored, in a file compressed whole (one gzip member) and
    # gzip per record: the sniffing that tells the two apart must not hold it either.
    big_record = warc_record("http://big/", bytes(BOMB_BYTES), record_type="resource")
    paths = {}
    for name, middle in files.items():
        paths[name] = directory / f"{name}.warc"
        paths[name].write_bytes(warc_record("http://good/1", http_response(page(1))) + middle + good_record(2))
    paths["big_whole_file_gzip"] = directory / "big_whole_file_gzip.warc.gz"
    with gzip.open(paths["big_whole_file_gzip"], "wb", compresslevel=1) as whole:
        whole.write(big_record + good_record(2))
    paths["big_gzip_per_record"] = directory / "big_gzip_per_record.warc.gz"
    paths["big_gzip_per_record"].write_bytes(
        gzip.compress(big_record, compresslevel=1) + gzip.compress(good_record(2), compresslevel=1)
    )
    return paths


def good_record(n: int) -> bytes:
    return warc_record(f"http://good/{n}", http_response(page(n)))


READ_UNDER_LIMIT = textwrap.dedent(
    """
    import json, resource, sys
    from transforms.readers import InputSpec, ReadConfig, read_file

    def address_space():
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmSize:"))

    limit, paths = int(sys.argv[1]), sys.argv[3:]
    config = ReadConfig(max_document_bytes=int(sys.argv[2]))
    list(read_file(InputSpec(name="warm", glob="x"), paths[0], config))  # lazy imports and buffers first
    resource.setrlimit(resource.RLIMIT_AS, (address_space() + limit,) * 2)
    for path in paths:
        items = [
            [type(item).__name__, getattr(item, "error", None) or getattr(item, "url", None), item.position]
            for item in read_file(InputSpec(name="bad", glob=path), path, config)
        ]
        print(json.dumps({"path": path, "items": items}), flush=True)
    """
)


def run_under_memory_limit(paths: list[Path]) -> dict[str, list]:
    """read_file's items of each file (class name, error or URL, position), read in a process that
    may grow by MEMORY_GUARD_BYTES of address space past its size after the first file."""
    result = subprocess.run(
        [sys.executable, "-c", READ_UNDER_LIMIT, str(MEMORY_GUARD_BYTES), str(SMALL_LIMIT), *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO_ROOT,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    return {Path(line["path"]).name: line["items"] for line in lines}


@pytest.fixture(scope="module")
def bombs(tmp_path_factory) -> dict[str, list]:
    paths = bomb_files(tmp_path_factory.mktemp("bombs"))
    good = tmp_path_factory.mktemp("warm") / "good.warc"
    good.write_bytes(good_record(1))
    read = run_under_memory_limit([good, *paths.values()])
    return {name: read[path.name] for name, path in paths.items()}


@pytest.mark.parametrize("codec", ["gzip", "deflate", "br"])
def test_an_http_content_encoding_bomb_is_document_too_large_and_the_pages_around_it_are_kept(bombs, codec):
    assert bombs[f"http_{codec}"] == [
        ["RawDocument", "http://good/1", 0],
        ["ReadError", "document_too_large", bombs[f"http_{codec}"][1][2]],
        ["RawDocument", "http://good/2", bombs[f"http_{codec}"][2][2]],
    ]


@pytest.mark.parametrize("layout", ["whole_file_gzip", "gzip_per_record"])
def test_a_compressed_record_over_the_limit_is_read_past_in_bounded_memory(bombs, layout):
    [too_large, good] = bombs[f"big_{layout}"]
    assert too_large[:2] == ["ReadError", "document_too_large"]
    assert good[:2] == ["RawDocument", "http://good/2"]


MEASURE_ONE_DOCUMENT = textwrap.dedent(
    """
    import json, sys
    from transforms.clean import CleanConfig, clean_document
    from transforms.filters.stage import FiltersConfig, Steps, filter_document
    from transforms.readers import InputSpec, ReadConfig, read_file

    def memory(field):
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) * 1024 for line in status if line.startswith(field + ":"))

    path = sys.argv[1]
    steps = Steps(FiltersConfig())
    steps.build_all()
    with open("/proc/self/clear_refs", "w") as clear_refs:
        clear_refs.write("5")  # the peak from here on: VmHWM starts again at VmRSS
    base = memory("VmRSS")
    items = read_file(InputSpec(name="big", glob=path), path, ReadConfig())
    for doc in items:
        row = clean_document(doc, CleanConfig())
        for step in steps.for_row(row):
            step.keep(row["text"])
        filter_document(row, steps.for_row(row))
        print(json.dumps({"document": doc.size_bytes(), "peak": memory("VmHWM") - base}))
    """
)


def test_one_large_document_takes_at_most_16_times_its_size_to_read_clean_and_filter(corpora, tmp_path):
    """docs/reliability.md measures 5.8x at 34 MB, 12x at 4 MB (fixed costs weigh more); the margin is
    for allocator noise. The code before the document was cut in pieces took 22x here, and fails it."""
    book = (corpora / "books/RU-ECE__ECE451-Parallel/data/pg1342.txt").read_text(encoding="utf-8", errors="replace")
    path = tmp_path / "one-line.jsonl"
    path.write_text(json.dumps({"text": (book * 7)[: 4 * 2**20]}) + "\n")
    result = subprocess.run(
        [sys.executable, "-c", MEASURE_ONE_DOCUMENT, str(path)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO_ROOT,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    measured = json.loads(result.stdout)
    assert measured["document"] > 4 * 10**6
    assert measured["peak"] < 16 * measured["document"]


# ---------------------------------------------------------------------------
# One record at a time: read_file, then clean_document, as prepare's ProcessParts runs them

DEEP_JSON = b'{"text": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
BAD_JSON_LINES = [
    b'{"text": "The first good line."}',
    b'{"text": "ok \\ud800"}',  # a lone surrogate: valid JSON, no valid Unicode
    b'{"text": "good", "url": "http://x/\\udfff"}',
    DEEP_JSON,  # deeper than Python's recursion limit
    b'{"text": "The last good line."}',
]


def liar_warc() -> bytes:
    """A page whose Content-Length is 40 bytes short, between two good pages."""
    block = http_response(page(9))
    return good_record(1) + warc_record("http://liar/", block, content_length=len(block) - 40) + good_record(2)


def deep_html(levels: int) -> bytes:
    return b"<html><body>" + b"<div>" * levels + page(3) + b"</div>" * levels + b"</body></html>"


def text_with_nuls() -> bytes:
    """A book-like text whose first NUL comes after the 8 KB the sniffing looks at."""
    line = b"A line of an ordinary plain text book, long enough to read like one.\n"
    return line * 200 + b"\x00\x00\x00 three NULs in the middle.\n" + line * 10


def read(path: Path, **read_settings) -> list:
    return list(read_file(InputSpec(name="bad", glob=str(path)), str(path), ReadConfig(**read_settings)))


def summary(items: list) -> list[tuple[str, str | int]]:
    return [(type(item).__name__, item.error if isinstance(item, ReadError) else item.position) for item in items]


def test_a_lone_surrogate_or_a_record_nested_too_deep_is_a_dead_letter_and_the_lines_around_are_kept(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_bytes(b"\n".join(BAD_JSON_LINES) + b"\n")
    items = read(path)
    assert summary(items) == [
        ("RawDocument", 1),
        ("ReadError", "invalid_unicode"),
        ("ReadError", "invalid_unicode"),
        ("ReadError", "invalid_json"),
        ("RawDocument", 5),
    ]
    assert "lone surrogate" in items[1].message and "'url'" in items[2].message
    assert items[3].message.startswith("RecursionError: ")
    assert [clean_document(doc, CleanConfig())["text"] for doc in (items[0], items[4])] == [
        "The first good line.",
        "The last good line.",
    ]


def test_a_warc_record_whose_content_length_is_too_short_is_a_dead_letter_and_the_next_record_is_read(tmp_path):
    path = tmp_path / "liar.warc"
    path.write_bytes(liar_warc())
    items = read(path)
    assert summary(items) == [
        ("RawDocument", 0),
        ("ReadError", "content_length_mismatch"),
        ("RawDocument", len(good_record(1)) + len(warc_record("http://liar/", http_response(page(9))))),
    ]
    assert [doc.url for doc in items if isinstance(doc, RawDocument)] == ["http://good/1", "http://good/2"]
    assert "Content-Length" in items[1].message


def test_a_content_length_over_the_limit_is_a_dead_letter_before_the_payload_is_read(tmp_path):
    path = tmp_path / "huge.warc"
    path.write_bytes(warc_record("http://huge/", http_response(page(5)), content_length=10**15) + good_record(2))
    error, good = read(path)  # the huge record runs to the end of the file; the good record inside it is read
    assert error.error == "truncated_record"
    assert isinstance(good, RawDocument) and good.url == "http://good/2"
    path.write_bytes(good_record(1) + warc_record("http://big/", http_response(bytes(5000))) + good_record(2))
    assert summary(read(path, max_document_bytes=4000))[1] == ("ReadError", "document_too_large")


def test_html_nested_deeper_than_the_parser_goes_is_counted_under_its_own_reason(tmp_path):
    shallow, deep = tmp_path / "shallow.html", tmp_path / "deep.html"
    shallow.write_bytes(deep_html(200))
    deep.write_bytes(deep_html(300))
    [shallow_doc], [deep_doc] = read(shallow), read(deep)
    assert "good page" in clean_document(shallow_doc, CleanConfig())["text"]
    assert clean_document(deep_doc, CleanConfig()) == Dropped("html_nested_too_deep")


def test_nul_characters_after_the_sniffed_head_are_removed_and_counted(tmp_path):
    path = tmp_path / "nul.txt"
    path.write_bytes(text_with_nuls())
    [doc] = read(path)
    removed: Counter[str] = Counter()
    cleaned = clean_document(doc, CleanConfig(), removed)
    assert "\x00" not in cleaned["text"] and "three NULs in the middle" in cleaned["text"]
    assert removed == {"nul_characters": 3}


# ---------------------------------------------------------------------------
# End to end: one prepare run over every bad file


@pytest.fixture(scope="module")
def bad_run(tmp_path_factory) -> tuple[Path, dict]:
    """Every bad file above prepared in memory: (output directory, the report)."""
    root = tmp_path_factory.mktemp("bad_run")
    corpus = root / "corpus"
    corpus.mkdir()
    (corpus / "bad.jsonl").write_bytes(b"\n".join(BAD_JSON_LINES) + b"\n")
    (corpus / "liar.warc").write_bytes(liar_warc())
    (corpus / "deep.html").write_bytes(deep_html(300))
    (corpus / "nul.txt").write_bytes(text_with_nuls())
    bomb = warc_record("http://bomb/gzip", http_response(zeros_compressed("gzip"), "gzip"))
    (corpus / "bomb.warc").write_bytes(good_record(3) + bomb + good_record(4))
    config = Config(inputs=[InputSpec(name="bad", glob=f"{corpus}/*")], output=str(root / "out"))
    config.filters.sources = [SourceSteps(source="bad", steps=[])]  # about reading and cleaning only
    config.dedup.exact = config.dedup.near = False
    config.read.max_document_bytes = SMALL_LIMIT
    return root / "out", run_prepare(config, IN_MEMORY)


def test_a_prepare_run_over_bad_files_finishes_with_each_bad_record_a_dead_letter(bad_run):
    output, report = bad_run
    dead_letters = [json.loads(line) for path in (output / "dead_letter").glob("*.jsonl") for line in path.open()]
    assert sorted((Path(d["path"]).name, d["position"], d["error"]) for d in dead_letters) == [
        ("bad.jsonl", 2, "invalid_unicode"),
        ("bad.jsonl", 3, "invalid_unicode"),
        ("bad.jsonl", 4, "invalid_json"),
        ("bomb.warc", len(good_record(3)), "document_too_large"),
        ("liar.warc", len(good_record(1)), "content_length_mismatch"),
    ]
    docs = [row for path in sorted((output / "docs").glob("*.parquet")) for row in pq.read_table(path).to_pylist()]
    kept = sorted((Path(row["id"].split(":")[1]).name, row["url"]) for row in docs)
    assert kept == [
        ("bad.jsonl", None),
        ("bad.jsonl", None),
        ("bomb.warc", "http://good/3"),
        ("bomb.warc", "http://good/4"),
        ("liar.warc", "http://good/1"),
        ("liar.warc", "http://good/2"),
        ("nul.txt", None),
    ]
    counts = report["sources"]["bad"]
    assert counts["dropped"] == {"html_nested_too_deep": 1}
    assert counts["nul_characters_removed"] == 3


def test_the_funnel_of_a_run_over_bad_files_balances(bad_run):
    _, report = bad_run
    counts = report["sources"]["bad"]
    # Every record is a document or a dead letter (none is skipped here); every document is kept or dropped.
    assert counts["files"] == 5
    records = len(BAD_JSON_LINES) + 3 + 3 + 1 + 1  # bad.jsonl, liar.warc, bomb.warc, deep.html, nul.txt
    assert counts["documents_read"] + sum(counts["dead_letter"].values()) == records
    assert counts["documents_read"] == counts["documents_out"] + sum(counts["dropped"].values()) == 8
