"""`textshards prepare` end to end, on real Beam runners and real files.

`small_run` prepares a small corpus of every kind of file, good and bad, once for the module's
tests; the real corpora are conftest's `corpora_run`, prepared once per test session."""

import gzip
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from pipeline.cli import main
from pipeline.config import Config
from pipeline.prepare import run_prepare
from pipeline.tokenize import run_tokenize
from tests.helpers import (
    IN_MEMORY,
    MULTI_PROCESS,
    REPEATED_ID_LINES,
    REPEATED_ID_RECORDS,
    REPEATED_IDS_SPLIT_BYTES,
    REPO_ROOT,
    file_digests,
)
from transforms.encode import TokenizeConfig
from transforms.filters.stage import SourceSteps
from transforms.readers import InputSpec, ReadConfig, split_file

# Small enough that shards hold a few documents each: several shards to sort and compare.
SHARD_TARGET_BYTES = 500


def _small_corpus(root: Path) -> Path:
    """A few files of every kind, good and bad."""
    corpus = root / "corpus"
    corpus.mkdir()
    book = (
        "The Project Gutenberg EBook of A Test, by Nobody\r\n\r\n"
        "*** START OF THIS PROJECT GUTENBERG EBOOK A TEST ***\r\n\r\n"
        "It was a bright cold day in April, and the clocks were striking thirteen.  \r\n\r\n\r\n\r\n"
        "Caf\u00e9 society gathered.\r\n\r\n"
        "*** END OF THIS PROJECT GUTENBERG EBOOK A TEST ***\r\n\r\n"
        "Section 5. General Information About Project Gutenberg-tm electronic works.\r\n"
    )
    (corpus / "book.txt").write_bytes(book.encode("cp1252"))
    (corpus / "page.html").write_bytes(
        b"<html><head><meta charset='utf-8'><title>T</title><script>var x = 1;</script></head>"
        b"<body><nav>Home | About</nav><article><h1>Heading</h1>"
        + b"".join(
            b"<p>Paragraph %d of the article, long enough to count as main text for any extractor.</p>" % i
            for i in range(6)
        )
        + b"</article></body></html>"
    )
    (corpus / "docs.jsonl").write_text(
        json.dumps({"text": "A JSON document.", "url": "https://example.org/a"}) + "\n{broken\n"
    )
    compressed = gzip.compress(b"".join(json.dumps({"text": f"doc {i} " * 40}).encode() + b"\n" for i in range(300)))
    (corpus / "cut.jsonl.gz").write_bytes(compressed[: len(compressed) // 2])
    (corpus / "empty.txt").write_bytes(b"")
    (corpus / "junk.bin").write_bytes(b"\x00\x01\x02" * 100)
    (corpus / "notes").mkdir()
    (corpus / "notes" / "note.txt").write_text("A note kept in a folder of the corpus.")
    return corpus


def _config(corpus: Path, output: Path) -> Config:
    """These tests are about reading, cleaning and writing: the small corpus's documents are far
    too short for the quality filters, so the source runs no filter step, and dedup is off
    (tests/test_filters_pipeline.py and tests/test_dedup_pipeline.py run them). The input is the
    corpus directory itself: every file below it."""
    config = Config(inputs=[InputSpec(name="mixed", glob=str(corpus))], output=str(output))
    config.filters.sources = [SourceSteps(source="mixed", steps=[])]
    config.dedup.exact = config.dedup.near = False
    config.write.shard_target_bytes = SHARD_TARGET_BYTES
    config.read.split_bytes = SHARD_TARGET_BYTES  # small files are read in batches of this size
    return config


def _docs(output: Path) -> list[dict]:
    rows = []
    for path in sorted((output / "docs").glob("*.parquet")):
        rows += pq.read_table(path).to_pylist()
    return rows


def _dead_letters(output: Path) -> list[dict]:
    return [
        json.loads(line)
        for path in sorted((output / "dead_letter").glob("*.jsonl"))
        for line in path.read_text().splitlines()
    ]


@pytest.fixture(scope="module")
def small_run(tmp_path_factory) -> tuple[Path, dict]:
    """The small corpus prepared in memory: (output directory, the report run_prepare returned)."""
    root = tmp_path_factory.mktemp("small")
    config = _config(_small_corpus(root), root / "out")
    return root / "out", run_prepare(config, IN_MEMORY)


def test_prepare_writes_docs_stats_and_dead_letters(small_run):
    output, report = small_run
    docs = {row["id"].split(":")[1]: row for row in _docs(output)}  # by path below the corpus directory
    book = docs["book.txt"]["text"]
    assert book.startswith("It was a bright cold day in April")
    assert "Café society gathered." in book
    assert "Gutenberg" not in book and "\r" not in book and "  \n" not in book
    assert "Paragraph 3 of the article" in docs["page.html"]["text"]
    assert "var x" not in docs["page.html"]["text"] and "Home | About" not in docs["page.html"]["text"]
    assert docs["notes/note.txt"]["id"] == "mixed:notes/note.txt:0"  # a directory input reads every level

    errors = sorted((e["path"], e["error"]) for e in _dead_letters(output))
    assert errors == [
        ("cut.jsonl.gz", "truncated_compressed_file"),
        ("docs.jsonl", "invalid_json"),
        ("empty.txt", "empty_document"),
        ("junk.bin", "binary_content"),
    ]
    counts = report["sources"]["mixed"]
    assert counts["files"] == 7
    assert counts["documents_out"] == len(_docs(output))
    assert counts["dead_letter"] == {
        "binary_content": 1,
        "empty_document": 1,
        "invalid_json": 1,
        "truncated_compressed_file": 1,
    }
    assert json.loads((output / "stats.json").read_text()) == report
    assert (output / "report.png").read_bytes().startswith(b"\x89PNG")
    assert (output / "_SUCCESS").exists() and not (output / ".incomplete").exists()


def test_docs_are_split_into_several_shards_by_size_in_input_order(small_run):
    output, _ = small_run
    shards = sorted((output / "docs").glob("part-*.parquet"))
    assert len(shards) > 1
    places = []  # (input path, position) of each document, shard after shard
    for shard in shards:
        for doc_id in pq.read_table(shard).column("id").to_pylist():
            _, path, position = doc_id.rsplit(":", 2)
            places.append((path, int(position)))
    assert places == sorted(places)


@pytest.mark.slow  # a multi-process prepare and two tokenize runs
def test_the_same_files_under_another_root_give_byte_identical_docs_and_shards(
    small_run, alice_tokenize_inputs, tmp_path
):
    """The small corpus copied under another root, prepared on the other running mode, then both
    outputs tokenized: docs, dead letters, stats, shards and manifest are the same bytes, since ids
    hold paths below the input's root (docs/ids.md). The shards hold the ids, and split and shuffle
    by their hash: the ids of another root would show in every file."""
    in_memory, _ = small_run
    elsewhere = shutil.copytree(in_memory.parent / "corpus", tmp_path / "another" / "root" / "corpus")
    multi_process = tmp_path / "prepare"
    run_prepare(_config(elsewhere, multi_process), MULTI_PROCESS)
    prepared = file_digests(in_memory)
    assert prepared == file_digests(multi_process)
    assert {"docs/part-00001.parquet", "dead_letter/part-00000.jsonl", "stats.json"} <= set(prepared)
    shards = []
    for docs in (in_memory / "docs", multi_process / "docs"):
        output = tmp_path / f"shards-{len(shards)}"
        settings = TokenizeConfig(docs=str(docs), tokenizer=str(alice_tokenize_inputs / "tokenizer"))
        settings.validation_fraction = 0.5  # both splits hold documents
        run_tokenize(Config(output=str(output), tokenize=settings), [*IN_MEMORY, "--direct_num_workers=1"])
        shards.append(file_digests(output))
    assert shards[0] == shards[1]
    assert {"manifest.json", "train/shard-00000-of-00001.arrow", "validation/shard-00000-of-00001.arrow"} <= set(
        shards[0]
    )


def test_bad_config_fails_before_any_work_naming_the_value(tmp_path, capsys):
    output = tmp_path / "out"
    assert main(["prepare", "--input", f"books:novel={tmp_path}/*", "--output", str(output)]) == 2
    assert "'novel'" in capsys.readouterr().err
    assert main(["prepare", "--input", f"books={tmp_path}/nothing-*.txt", "--output", str(output)]) == 2
    assert "matches no file" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["prepare", "--input", f"books={tmp_path}/empty", "--output", str(output)]) == 2
    assert "matches no file" in capsys.readouterr().err
    config_file = tmp_path / "run.yaml"
    config_file.write_text("clean:\n  min_chars: lots\n")
    assert main(["prepare", "--config", str(config_file), "--input", f"b={tmp_path}/*", "--output", str(output)]) == 2
    err = capsys.readouterr().err
    assert "clean.min_chars" in err and "'lots'" in err
    assert not output.exists()


@pytest.mark.slow  # two `textshards prepare` processes on the multi-process runner
def test_killed_run_leaves_nothing_that_looks_finished_and_rerun_completes(tmp_path):
    output = tmp_path / "out"
    books = REPO_ROOT / "examples" / "corpus" / "books"
    command = [sys.executable, "-m", "pipeline.cli", "prepare", "--output", str(output), "--input", f"books={books}/*"]
    process = subprocess.Popen(
        command, cwd=REPO_ROOT, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    # Killed once the job has begun (its staging directory exists) and had a second to get going.
    deadline = time.monotonic() + 120
    while not (output / ".incomplete").exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1)
    assert process.poll() is None, "the run ended before it could be killed: give it more input"
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert (output / ".incomplete").exists()
    assert not (output / "_SUCCESS").exists()
    assert not (output / "stats.json").exists()
    assert not list(output.glob("docs/*.parquet"))

    subprocess.run(command, cwd=REPO_ROOT, check=True, capture_output=True)
    assert (output / "_SUCCESS").exists() and not (output / ".incomplete").exists()
    assert _docs(output)


@pytest.mark.slow  # the session's corpora_run: the real corpora through prepare, train-tokenizer and tokenize
def test_prepare_never_crashes_on_the_real_corpora_and_reports_each_defect(corpora_run):
    """corpora_run prepared books, web and jsonl with the default filters and dedup."""
    output = corpora_run / "prepare"
    report = json.loads((output / "stats.json").read_text())
    errors = {(Path(e["path"]).name, e["error"]) for e in _dead_letters(output)}
    names_with_errors = {name for name, _ in errors}
    assert "clipped.warc.gz" in names_with_errors
    assert "example-trunc.warc" in names_with_errors
    assert report["totals"]["documents_after_clean"] > 900
    assert report["totals"]["documents_out"] == len(_docs(output)) > 200  # after the default filters and dedup
    assert not {"clean_failed", "filter_failed"} & set(report["totals"].get("dead_letter", {}))
    for source in ("books", "web", "jsonl"):  # every document read is kept or counted as dropped
        counts = report["sources"][source]
        assert counts["documents_read"] == counts["documents_out"] + sum(counts.get("dropped", {}).values())


def test_a_file_with_repeated_ids_read_in_ranges_gives_the_outputs_of_reading_it_whole(repeated_ids_run):
    records = repeated_ids_run / "input" / "records.jsonl"
    spec = InputSpec(name="web", glob=str(records))
    assert len(split_file(spec, str(records), ReadConfig(split_bytes=REPEATED_IDS_SPLIT_BYTES))) > 3
    split, whole = repeated_ids_run / "split", repeated_ids_run / "whole"
    assert file_digests(split) == file_digests(whole)  # docs, dead letters, duplicates, stats, byte for byte
    dead = [json.loads(line) for path in sorted((split / "dead_letter").glob("*.jsonl")) for line in path.open()]
    assert [(d["position"], d["error"]) for d in dead] == sorted(
        [(6, "empty_document")] + [(line, "duplicate_id") for line in REPEATED_ID_LINES]
    )
    assert dead[-1]["message"] == "id 'e' was already read from this file"
    # The repeated records never reached dedup: the one duplicate is the copy under an id of its own,
    # and each id names one document.
    ids = pq.read_table(split / "docs", columns=["id"]).column("id").to_pylist()
    kept = [f"web:records.jsonl:{r['doc']}" for r in REPEATED_ID_RECORDS[:4] + REPEATED_ID_RECORDS[6:26]]
    assert ids == kept
    duplicates = [json.loads(line) for path in sorted((split / "duplicates").glob("*.jsonl")) for line in path.open()]
    copy = ("web:records.jsonl:copy-of-d5", "web:records.jsonl:d5")
    assert [(d["removed_id"], d["kept_id"]) for d in duplicates] == [copy]
    stats = json.loads((split / "stats.json").read_text())["totals"]
    assert stats["documents_read"] == len(REPEATED_ID_RECORDS) - 1 - len(REPEATED_ID_LINES)
