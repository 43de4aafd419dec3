"""Fuzzing the readers and the cleaner with mutated copies of real files (issue 14).

5,000 inputs, made with a fixed seed from small real files of ../shared/corpora (WARC, WET,
WAT, ARC, JSON lines, books, HTML; compressed ones also mutated inside their compression):
bytes flipped, cut short, foreign bytes spliced in (headers, gzip magic, pieces of other files),
nesting thousands deep, length fields made huge. Each input goes the way prepare's ProcessParts
takes it, without Beam: `read_file`, then `clean_document` for every document. Nothing may raise,
and every input must come out as documents, dead letters or skipped records.

Cheap enough for every CI run (issue 14: under a minute): the inputs are made once per process and
run in SHARDS tests that pytest-xdist spreads over its workers, and a document read again unchanged
(a mutation leaves the other records of a WARC file as they were) is cleaned once: `clean_document`
is a pure function of the document, so its second outcome is its first.
"""

from __future__ import annotations

import functools
import gzip
import random
import re
import time
import zlib
from collections import Counter
from pathlib import Path

import pytest

from transforms.clean import CleanConfig, Dropped, clean_document
from transforms.readers import InputSpec, ReadConfig, read_file
from transforms.records import RawDocument, ReadError
from transforms.warc import Skipped

INPUTS = 5000
SHARDS = 4  # tests of INPUTS / SHARDS inputs each
SEED = 14
SEED_HEAD_BYTES = 12 * 1024  # text seeds are cut to this: cleaning 5,000 whole books would take minutes
MAX_DOCUMENT_BYTES = 256 * 1024  # small, so that huge length fields and nesting meet the limit

WARC_SEEDS = [
    "web/warc/webrecorder__warcio/test/data/example.arc.gz",
    "web/warc/commoncrawl__whirlwind-python/whirlwind.warc.wat.gz",
    "web/warc/commoncrawl__whirlwind-python/whirlwind.warc.wet.gz",
    "web/warc/webrecorder__warcio/test/data/example-wget-bad-target-uri.warc.gz",
    "web/warc/webrecorder__warcio/test/data/example-trunc.warc",
    "web/warc/webrecorder__warcio/test/data/example.warc.gz",
    "web/warc/webrecorder__warcio/test/data/example-iana.org-chunked.warc",
    "web/warc/chatnoir-eu__chatnoir-resiliparse/tests/data/clipped.warc.gz",
    "web/warc/commoncrawl__whirlwind-python/whirlwind.warc.gz",
]
TEXT_SEEDS = [
    "jsonl/allenai__dolma/tests/data/multiple_files/cc_en_head-0174.jsonl",
    "books/RU-ECE__ECE451-Parallel/data/books/pg7256.txt",
    "books/c-w__gutenberg/tests/data/raw-texts/33956",
    "web/html/adbar__trafilatura/tests/cache/blog.python.org.html",
    "web/html/adbar__trafilatura/tests/cache/zeit.de.zugverkehr.html",
]

SPLICES = [
    b"WARC/1.0\r\nWARC-Type: response\r\nContent-Length: 99999999999\r\n\r\n",
    b"WARC/1.0\r\nWARC-Type: resource\r\nContent-Type: text/html\r\nContent-Length: 10\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\nffffffff\r\n",
    b"\r\n\r\n",
    b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03",
    b"\x28\xb5\x2f\xfd",
    b"\x00" * 64,
    b'{"text": "\\ud800", "url": "\\udfff"}\n',
    b'{"text": ' + b"[" * 20_000,
    b"<div>" * 2_000,
    b"\xef\xbb\xbf\xff\xfe",
]
HUGE = [b"0", b"1", b"4294967296", b"99999999999999999999", b"-1", b"18446744073709551615"]
LENGTH_FIELD = re.compile(rb"((?:Content-Length|content-length):[ \t]*)(\d+)")


def seed_files(corpora: Path) -> list[tuple[bytes, bool]]:
    """(content, gzip-compressed) of each seed; text seeds cut to their first SEED_HEAD_BYTES."""
    seeds = []
    for relative in WARC_SEEDS:
        data = (corpora / relative).read_bytes()
        seeds.append((data, data.startswith(b"\x1f\x8b")))
    for relative in TEXT_SEEDS:
        seeds.append(((corpora / relative).read_bytes()[:SEED_HEAD_BYTES], False))
    return seeds


def plain(data: bytes) -> bytes:
    """The decompressed bytes of a gzip file, as far as they go (clipped.warc.gz is cut short)."""
    out, inflater = [], zlib.decompressobj(wbits=31)
    while data:
        try:
            out.append(inflater.decompress(data))
        except zlib.error:
            break
        data = inflater.unused_data
        if not inflater.eof:
            break
        inflater = zlib.decompressobj(wbits=31)
    return b"".join(out)


def mutate(data: bytes, rng: random.Random, others: list[bytes]) -> bytes:
    """`data` with one to three mutations."""
    for _ in range(rng.randint(1, 3)):
        kind = rng.choice(["flip", "truncate", "splice", "foreign", "nest", "length"])
        at = rng.randrange(len(data) + 1)
        if kind == "flip" and data:
            mutable = bytearray(data)
            for _ in range(rng.randint(1, 8)):
                mutable[rng.randrange(len(mutable))] ^= rng.randrange(1, 256)
            data = bytes(mutable)
        elif kind == "truncate":
            data = data[:at]
        elif kind == "splice":
            data = data[:at] + rng.choice(SPLICES) + data[at:]
        elif kind == "foreign":
            other = rng.choice(others)
            start = rng.randrange(len(other) + 1)
            data = data[:at] + other[start : start + rng.randint(1, 4096)] + data[at:]
        elif kind == "nest":
            opening = rng.choice([b"[", b'{"a":', b"<div>", b"<b><i>"])
            data = data[:at] + opening * rng.randint(300, 50_000) + data[at:]
        else:
            fields = list(LENGTH_FIELD.finditer(data))
            if fields:
                field = rng.choice(fields)
                data = data[: field.start(2)] + rng.choice(HUGE) + data[field.end(2) :]
    return data


@functools.cache
def fuzz_inputs(corpora: Path, count: int = INPUTS) -> list[bytes]:
    """The first `count` inputs; the same on every run (SEED)."""
    rng = random.Random(SEED)
    seeds = seed_files(corpora)
    others = [plain(data) if compressed else data for data, compressed in seeds]
    inputs = []
    for i in range(count):
        data, compressed = seeds[i % len(seeds)]
        if compressed and rng.random() < 0.5:  # mutate inside the compression too
            data = gzip.compress(mutate(plain(data), rng, others), compresslevel=1, mtime=0)
        else:
            data = mutate(data, rng, others)
        inputs.append(data)
    return inputs


@pytest.mark.parametrize("shard", range(SHARDS))
def test_mutated_real_files_never_raise_and_every_input_is_accounted_for(corpora, tmp_path, shard):
    first = shard * INPUTS // SHARDS  # a run of consecutive inputs: every seed, in turn
    inputs = fuzz_inputs(corpora)[first : (shard + 1) * INPUTS // SHARDS]
    config, clean = ReadConfig(max_document_bytes=MAX_DOCUMENT_BYTES), CleanConfig()
    outcomes: Counter[str] = Counter()
    cleaned_before: dict[tuple, str] = {}  # a document's fields -> the outcome of cleaning it
    failures = []
    started = time.monotonic()
    for i, data in enumerate(inputs):
        path = tmp_path / f"input-{i % 8}"
        path.write_bytes(data)
        try:
            items = list(read_file(InputSpec(name="fuzz", glob=str(path)), str(path), config))
            for item in items:
                if isinstance(item, RawDocument):
                    fields = (item.kind, item.url, item.declared_charset, item.container, item.data)
                    if fields not in cleaned_before:
                        cleaned = clean_document(item, clean)
                        cleaned_before[fields] = "dropped" if isinstance(cleaned, Dropped) else "document"
                    outcomes[cleaned_before[fields]] += 1
                elif isinstance(item, ReadError):
                    outcomes[f"dead_letter.{item.error}"] += 1
                else:
                    assert isinstance(item, Skipped)
                    outcomes["skipped"] += 1
        except Exception as err:  # the failure under test
            failures.append((first + i, f"{type(err).__name__}: {err}"))
            continue
        if not items:
            failures.append((first + i, "no document, dead letter or skipped record"))
    seconds = time.monotonic() - started
    cleaned = f"{len(cleaned_before)} distinct documents cleaned"
    print(f"{len(inputs)} inputs ({cleaned}) in {seconds:.0f} s: {dict(sorted(outcomes.items()))}")
    assert failures == []
    # The mutations reach every outcome: good documents, and dead letters of several kinds.
    assert outcomes["document"] > 1000 / SHARDS and outcomes["skipped"] > 1000 / SHARDS
    assert {"document_too_large", "invalid_json", "content_length_mismatch", "malformed_warc"} <= {
        kind.partition(".")[2] for kind in outcomes if kind.startswith("dead_letter.")
    }


def test_the_fuzz_inputs_are_the_same_on_every_run(corpora):
    first = fuzz_inputs(corpora, 100)
    fuzz_inputs.cache_clear()
    assert fuzz_inputs(corpora, 100) == first
