"""The Python API (`import textshards`): its functions, the Prepare transform on a PCollection of
documents, and the two examples in examples/, run as a user runs them."""

import json
import os
import subprocess
import sys
from pathlib import Path

import apache_beam as beam
import pyarrow.parquet as pq
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.util import assert_that

import textshards
from tests.helpers import DECONTAMINATION_DOCUMENTS, IN_MEMORY, PROSE, REPO_ROOT

ALICE = REPO_ROOT / "examples" / "corpus" / "books" / "alice29.txt"
# One process, one worker: the examples' Beam stages on a tiny corpus.
ONE_WORKER = [*IN_MEMORY, "--direct_num_workers=1"]
# 850 words of Alice, and 30 of them as a benchmark's item (in no other document here).
ALICE_DOCUMENT = DECONTAMINATION_DOCUMENTS[1]
ALICE_ITEM = " ".join(ALICE_DOCUMENT.split()[100:130])


def _docs(directory: Path) -> list[dict]:
    return [row for path in sorted((directory / "docs").glob("*.parquet")) for row in pq.read_table(path).to_pylist()]


def test_prepare_transform_cleans_filters_deduplicates_and_decontaminates_a_pcollection_of_records(tmp_path):
    records = [
        {"id": "mine/1", "source": "notes", "text": PROSE, "url": "https://example.org/1"},
        {"id": "mine/2", "source": "notes", "text": PROSE},  # an exact copy of mine/1
        {"id": "mine/3", "source": "notes", "text": "Too short to keep."},
        {"id": "mine/4", "source": "notes", "text": 42},  # not text: a dead letter
        {"id": "mine/5", "source": "quotes", "text": ALICE_DOCUMENT},  # holds the benchmark's item
    ]
    (tmp_path / "bench.jsonl").write_text(json.dumps({"question": ALICE_ITEM}) + "\n")
    config = textshards.Config()
    config.filters.sources = [textshards.SourceSteps("quotes", [])]  # unfiltered: only decontamination drops it
    config.decontaminate.benchmarks = [textshards.BenchmarkSpec("bench", str(tmp_path / "bench.jsonl"))]
    output = tmp_path / "out"
    returned = tmp_path / "returned.json"  # what Prepare returns, kept by the pipeline's last step
    with beam.Pipeline(options=PipelineOptions(IN_MEMORY)) as pipeline:
        report = pipeline | beam.Create(records) | textshards.Prepare(config, str(output))
        assert_that(report, lambda reports: returned.write_text(json.dumps(reports)))

    docs = _docs(output)
    assert [(d["id"], d["source"], d["container"]) for d in docs] == [("mine/1", "notes", "record")]
    assert docs[0]["text"] == PROSE and docs[0]["url"] == "https://example.org/1"
    [duplicate] = [json.loads(line) for p in (output / "duplicates").glob("*.jsonl") for line in p.open()]
    assert (duplicate["removed_id"], duplicate["kept_id"]) == ("mine/2", "mine/1")
    [dead] = [json.loads(line) for p in (output / "dead_letter").glob("*.jsonl") for line in p.open()]
    assert (dead["path"], dead["error"]) == ("mine/4", "invalid_record")
    stats = json.loads((output / "stats.json").read_text())
    assert json.loads(returned.read_text()) == [stats]
    notes = stats["sources"]["notes"]
    assert (notes["documents_read"], notes["documents_out"], notes["dead_letter"]) == (3, 1, {"invalid_record": 1})
    assert sum(notes["dropped"].values()) == 2  # the short one and the copy
    assert stats["sources"]["quotes"]["dropped"] == {"contaminated": 1}
    [contaminated] = [json.loads(line) for p in (output / "contaminated").glob("*.jsonl") for line in p.open()]
    assert (contaminated["id"], contaminated["items"]) == ("mine/5", ["bench:bench.jsonl:1"])
    assert json.loads((output / "decontamination.json").read_text())["bench"]["documents_hit"] == 1
    assert not (output / "parts").exists()  # the per-document stage's part files are gone


def test_stage_functions_take_overrides_without_changing_the_config_given():
    config = textshards.Config(inputs=[textshards.InputSpec("books", "no/such/dir/*.txt")])
    with pytest.raises(textshards.ConfigError, match="matches no file"):
        textshards.prepare(config, output="out")
    assert config.output == ""
    with pytest.raises(textshards.ConfigError, match="matches no file"):
        textshards.prepare(inputs=["web:jsonl=no/such/*.jsonl"], output="out")
    with pytest.raises(textshards.ConfigError, match="vocab_sise: not a field of Config or of Config.tokenizer"):
        textshards.train_tokenizer(config, vocab_sise=300)
    with pytest.raises(textshards.OperatorError, match="tokenize.docs"):
        textshards.tokenize(config, tokenizer="tok/", output="out")


def _run_example(script: str, args: list[str], cwd: Path) -> str:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run(
        [sys.executable, str(REPO_ROOT / "examples" / script), *args, *ONE_WORKER],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@pytest.mark.slow  # every stage, on six pieces of a book
def test_python_api_example_runs_every_stage(tmp_path):
    book = ALICE.read_bytes()
    (tmp_path / "books").mkdir()
    for i in range(6):  # six documents: both splits get some
        (tmp_path / "books" / f"part{i}.txt").write_bytes(book[i * 20_000 : (i + 1) * 20_000])
    (tmp_path / "run.yaml").write_text(
        "inputs: [{name: books, glob: books/*.txt}]\n"
        "tokenizer: {vocab_size: 300}\n"
        "tokenize: {validation_fraction: 0.5}\n"
        "run: {train: {preset: tiny, warmup_steps: 1, eval_interval: 2, eval_windows: 4}}\n"
    )
    out = _run_example("python_api.py", ["--config", "run.yaml", "--output", "out", "--max-steps", "2"], tmp_path)
    assert "prepare: 6 of 6 documents kept" in out
    assert "train_tokenizer: 300 tokens" in out
    assert "train: 2 steps, best validation loss" in out
    assert (tmp_path / "out" / "train" / "last.pt").exists()


def test_beam_pipeline_example_prepares_paragraphs(tmp_path):
    (tmp_path / "alice.txt").write_bytes(ALICE.read_bytes()[:30_000])
    out = _run_example("beam_pipeline.py", ["--books", str(tmp_path / "*.txt"), "--output", "out"], tmp_path)
    kept = _docs(tmp_path / "out")
    assert f"98 paragraphs read, {len(kept)} kept by the filters, {len(kept)} left after deduplication" in out
    assert len(kept) > 50 and kept[0]["id"].startswith("alice.txt:")
