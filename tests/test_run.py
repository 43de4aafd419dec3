"""`textshards run`: every stage from one config, skipping what is complete and made from the
same config, redoing what is incomplete or out of date. Real stages on two bundled books."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pytest
import yaml

from pipeline.cli import main
from pipeline.config import Config
from pipeline.run import RunPaths, check_before_work
from tests.helpers import IN_MEMORY, REPO_ROOT
from transforms.settings import ConfigError, config_from_mapping

torch = pytest.importorskip("torch")

BOOKS = REPO_ROOT / "examples" / "corpus" / "books"
BEAM = ["--", *IN_MEMORY, "--direct_num_workers=1"]  # one process: quicker on 2 cores
TRAIN = {
    "n_layer": 1,
    "n_head": 2,
    "n_embd": 16,
    "block_size": 16,
    "batch_size": 2,
    "max_steps": 3,
    "eval_interval": 3,
    "eval_windows": 4,
    "log_interval": 1,
    "threads": 1,
}


def write_config(path: Path, inputs: Path, **sections) -> Path:
    """No filter step and no dedup: what is skipped or redone is the same, and each prepare is quicker."""
    config = {
        "inputs": [{"name": "books", "glob": str(inputs / "*.txt")}],
        "filters": {"books": []},
        "dedup": {"exact": False, "near": False},
        "tokenizer": {"vocab_size": 300, "sample_bytes": 2_000_000},
        "tokenize": {"validation_fraction": 0.2},
        "run": {"train": TRAIN},
        **sections,
    }
    path.write_text(yaml.safe_dump(config))
    return path


def tree_digest(root: Path) -> dict[str, str]:
    """sha256 of every file under `root`, by relative path (train/ and _SUCCESS timings left out)."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != "_SUCCESS" and "train" not in p.parts
    }


@pytest.fixture
def books(tmp_path) -> Path:
    """60 files of about 4 KB, cut from two books at paragraph ends: enough documents that the
    split by hash of id leaves both train and validation non-empty (the two whole books' ids,
    books:alice29.txt:0 and books:asyoulik.txt:0, both fall in train at 0.2)."""
    directory = tmp_path / "books"
    directory.mkdir()
    paragraphs = [
        p
        for name in ("alice29.txt", "asyoulik.txt")
        for p in (BOOKS / name).read_text(encoding="latin-1").split("\n\n")
        if p.strip()
    ]
    chunks, chunk = [], []
    for paragraph in paragraphs:
        chunk.append(paragraph)
        if sum(map(len, chunk)) > 4000:
            chunks.append("\n\n".join(chunk))
            chunk = []
    for i, text in enumerate(chunks[:60]):
        (directory / f"part-{i:02d}.txt").write_text(text, encoding="utf-8")
    assert len(list(directory.iterdir())) == 60
    return directory


@pytest.mark.slow  # `textshards run` five times: every stage and a training
def test_run_skips_complete_stages_and_redoes_what_changed_or_is_incomplete(tmp_path, books, capsys):
    root = tmp_path / "run"
    config = write_config(tmp_path / "run.yaml", books)
    args = ["run", "--config", str(config), "--output", str(root), *BEAM]

    assert main(args) == 0
    out = capsys.readouterr().out
    for stage in ("prepare", "tokenizer", "shards", "train"):
        assert (root / stage / ("last.pt" if stage == "train" else "_SUCCESS")).exists(), stage
    assert "skipped" not in out
    first = tree_digest(root)

    # Nothing changed: every Beam stage is skipped, the trainer finds its run complete.
    assert main(args) == 0
    out = capsys.readouterr().out
    assert out.count("skipped") == 3 and "already complete at step 3" in out
    assert tree_digest(root) == first

    # A killed tokenize (no _SUCCESS, a staging directory left behind) is redone, byte for byte,
    # and training starts again on the rewritten shards.
    (root / "shards" / "_SUCCESS").unlink()
    (root / "shards" / ".incomplete").mkdir()
    assert main(args) == 0
    out = capsys.readouterr().out
    assert out.count("skipped") == 2 and "shards: no complete output: running" in out
    assert "(from scratch: new shards)" in out and "already complete" not in out
    assert tree_digest(root) == first

    # A tokenize setting changed: prepare and the tokenizer stay, the shards are made again.
    write_config(config, books, tokenize={"validation_fraction": 0.2, "seed": 7})
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "prepare" in out and out.count("skipped") == 2 and "made from other settings or inputs" in out
    changed = {name for name, digest in tree_digest(root).items() if first.get(name) != digest}
    assert changed and all(name.startswith("shards/") for name in changed)

    # A new input file redoes everything below prepare.
    shutil.copy(BOOKS / "lcet10.txt", books / "lcet10.txt")
    assert main(args) == 0
    assert capsys.readouterr().out.count("skipped") == 0


def test_a_bad_run_config_fails_before_any_work(tmp_path, books, capsys):
    root = tmp_path / "run"
    paths = RunPaths(str(root))

    def config(**overrides) -> Config:
        mapping = {"inputs": [{"name": "books", "glob": str(books / "*.txt")}], "output": str(root), **overrides}
        return config_from_mapping(mapping, Config)

    cases = [
        ({"run": {"stages": ["tokenize", "prepare"]}}, "run.stages: ['tokenize', 'prepare'] must list each stage once"),
        ({"run": {"stages": ["bake"]}}, "run.stages: ['bake'] must list some of"),
        ({"run": {"train": {"lrr": 1}}}, "run.train.lrr: unknown field"),
        ({"run": {"train": {"lr": -1.0}}}, "run.train.lr"),
        ({"run": {"stages": ["tokenize"]}}, "run.stages: tokenize reads"),
        ({"tokenize": {"docs": "elsewhere/docs"}}, "tokenize.docs: 'elsewhere/docs'"),
        ({"inputs": [{"name": "books", "glob": str(books / "*.nothing")}]}, "inputs[0].glob"),
        ({"tokenizer": {"reference": str(tmp_path / "missing.json")}}, "tokenizer.reference"),
    ]
    for overrides, message in cases:
        with pytest.raises(ConfigError, match=_escaped(message)):
            check_before_work(config(**overrides), paths, [])
    dataflow = ["--runner", "DataflowRunner", "--project", "p", "--region", "r", "--temp_location", "gs://b/t"]
    with pytest.raises(ConfigError, match=_escaped(f"output: {str(root)!r} is on this machine")):
        check_before_work(config(), paths, dataflow)
    assert not root.exists()
    bad = write_config(tmp_path / "bad.yaml", books, run={"train": {"lrr": 1}})
    assert main(["run", "--config", str(bad), "--output", str(root)]) == 2
    assert "run.train.lrr: unknown field" in capsys.readouterr().err
    assert not root.exists()


def _escaped(text: str) -> str:
    import re

    return re.escape(text)


def test_an_input_edited_in_place_to_the_same_size_redoes_prepare(tmp_path, capsys):
    import pyarrow.parquet as pq

    inputs = tmp_path / "books"
    inputs.mkdir()
    book = inputs / "alice.txt"
    book.write_text((BOOKS / "alice29.txt").read_text(encoding="latin-1")[:20_000], encoding="utf-8")
    config = write_config(tmp_path / "run.yaml", inputs, run={"stages": ["prepare"]})
    args = ["run", "--config", str(config), "--output", str(tmp_path / "run"), *BEAM]
    assert main(args) == 0
    assert main(args) == 0
    assert "complete, made from the same config and inputs (inputs compared by size and modification time" in (
        capsys.readouterr().out
    )

    size, modified = book.stat().st_size, book.stat().st_mtime
    book.write_bytes(book.read_bytes().replace(b"Alice", b"Elise"))
    os.utime(book, (modified + 2, modified + 2))  # a later time, even where the filesystem counts whole seconds
    assert book.stat().st_size == size
    assert main(args) == 0
    assert "prepare: made from other settings or inputs: running again" in capsys.readouterr().out
    texts = [t for f in (tmp_path / "run" / "prepare" / "docs").glob("*.parquet") for t in pq.read_table(f)["text"]]
    assert any("Elise" in str(text) for text in texts) and not any("Alice" in str(text) for text in texts)
