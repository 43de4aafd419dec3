"""Shared test fixtures (shared helpers that are not fixtures live in tests/helpers.py).

`corpora` is the one way tests reach the real data in ../shared/corpora: it reads
$TEXTSHARDS_CORPORA or falls back to ../shared/corpora beside the repository, and
skips (saying why) where neither exists.

The session fixtures below run real pipelines once per test session, even under pytest-xdist
(`build_once`): `demo_run` and `corpora_run` (prepare, train-tokenizer and tokenize on the demo
corpus and on the real corpora), and `alice_shards` / `alice_packed_shards` (a small shard set
for the trainer's tests). Tests read their outputs and never write into them.
"""

import contextlib
import dataclasses
import io
import json
import os
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from filelock import FileLock

# bench/ and tests/local_services.py import REPO_ROOT from here, as they do corpora_path and corpora_root.
from tests.helpers import IN_MEMORY, PACKED_SEQ_LEN, REPO_ROOT, working_directory


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Files that hold slow tests first. With `--dist loadfile` (pyproject.toml) each file goes whole
    to one worker, in this order: a slow file handed out last would leave the other workers idle."""
    files_with_slow_tests = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in files_with_slow_tests)  # stable: each file keeps its order


def corpora_path() -> Path:
    """$TEXTSHARDS_CORPORA, else ../shared/corpora beside the repository (which may not exist)."""
    configured = os.environ.get("TEXTSHARDS_CORPORA")
    return Path(configured) if configured else REPO_ROOT.parent / "shared" / "corpora"


def corpora_root() -> Path | None:
    """corpora_path() where it is a directory, else None."""
    path = corpora_path()
    return path if path.is_dir() else None


@pytest.fixture(scope="session")
def corpora() -> Path:
    root = corpora_root()
    if root is None:
        pytest.skip("real corpora not found: set TEXTSHARDS_CORPORA or place them at ../shared/corpora")
    return root


def build_once(tmp_path_factory, name: str, build) -> Path:
    """`build(directory)` once per test session, even under pytest-xdist: the first worker to
    ask builds it under the session's shared base directory; the others wait and reuse it."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # shared by every worker of this session
    directory = base / name
    with FileLock(f"{directory}.lock"):
        if not (directory / ".built").exists():
            shutil.rmtree(directory, ignore_errors=True)
            directory.mkdir()
            build(directory)
            (directory / ".built").touch()
    return directory


def _run_stages(config, output: Path) -> None:
    from pipeline.run import run_all

    config.output = str(output)
    config.run.stages = ["prepare", "train-tokenizer", "tokenize"]
    run_all(config, [])


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory) -> Path:
    """examples/demo.yaml's prepare, train-tokenizer and tokenize, in run/{prepare,tokenizer,shards};
    what crossed their shuffles (transforms/shuffle_audit.py) in shuffles.json beside run/, and what
    they printed on stderr, with a progress line every 0.2 s, in stderr.txt beside run/."""
    from pipeline.config import load_config_file
    from transforms.shuffle_audit import measure_shuffles

    def build(directory: Path) -> None:
        config = load_config_file(REPO_ROOT / "examples" / "demo.yaml")
        config.runner.progress_seconds = 0.2  # several lines even while the small corpus is read
        stderr = io.StringIO()
        # The demo's globs are relative.
        with working_directory(REPO_ROOT), measure_shuffles() as audit, contextlib.redirect_stderr(stderr):
            _run_stages(config, directory / "run")
        (directory / "shuffles.json").write_text(json.dumps([dataclasses.asdict(t) for t in audit.totals()]))
        (directory / "stderr.txt").write_text(stderr.getvalue())

    return build_once(tmp_path_factory, "demo_run", build) / "run"


@pytest.fixture(scope="session")
def corpora_run(tmp_path_factory, corpora) -> Path:
    """The real corpora (books, web, jsonl) with the default settings through prepare,
    train-tokenizer (a 4,096-token vocabulary) and tokenize (a tenth in validation), in
    run/{prepare,tokenizer,shards}. The globs are absolute: ids hold paths below each glob's
    root, so the outputs do not depend on where the corpora are."""
    from pipeline.config import Config
    from transforms.readers import InputSpec

    def build(directory: Path) -> None:
        config = Config(inputs=[InputSpec(name=n, glob=f"{corpora}/{n}/**") for n in ("books", "web", "jsonl")])
        config.tokenizer.vocab_size = 4096
        config.tokenize.validation_fraction = 0.1
        _run_stages(config, directory / "run")

    return build_once(tmp_path_factory, "corpora_run", build) / "run"


ALICE = REPO_ROOT / "examples" / "corpus" / "books" / "alice29.txt"


@pytest.fixture(scope="session")
def alice_tokenize_inputs(tmp_path_factory) -> Path:
    """What tokenize reads, made small: alice29.txt's paragraphs (one document each) as prepare's
    docs/*.parquet, and in tokenizer/ a 300-token byte-level BPE trained on the start of the book
    by tokenizer_training.bpe, as train-tokenizer writes it."""
    from tokenizer_training.bpe import TokenizerConfig, train_tokenizer
    from transforms.bpe import tokenizer_json
    from transforms.tokenizer_copies import tokenizer_files

    def build(directory: Path) -> None:
        book = ALICE.read_text(encoding="latin-1")
        paragraphs = [p.strip() for p in book.split("\n\n") if p.strip()]
        (directory / "docs").mkdir()
        pq.write_table(
            pa.table(
                {
                    "id": [f"books:alice29.txt:{i}" for i in range(len(paragraphs))],
                    "source": ["books"] * len(paragraphs),
                    "text": paragraphs,
                }
            ),
            directory / "docs" / "part-00000.parquet",
        )
        (directory / "_SUCCESS").write_text("{}")  # prepare's mark of complete docs
        settings = TokenizerConfig(vocab_size=300)
        tokenizer = train_tokenizer([book[:60_000]], settings, show_progress=False)
        (directory / "tokenizer").mkdir()
        for name, data in tokenizer_files(tokenizer_json(tokenizer), settings.special_tokens[0]).items():
            (directory / "tokenizer" / name).write_bytes(data)

    return build_once(tmp_path_factory, "alice_tokenize_inputs", build)


def _alice_shards(tmp_path_factory, inputs: Path, packed: bool) -> Path:
    from pipeline.config import Config
    from pipeline.tokenize import run_tokenize
    from transforms.encode import TokenizeConfig

    def build(directory: Path) -> None:
        config = Config(output=str(directory / "shards"))
        config.tokenize = TokenizeConfig(
            docs=str(inputs / "docs"),
            tokenizer=str(inputs / "tokenizer"),
            validation_fraction=0.1,
            shard_target_tokens=20_000,
            packed=packed,
            seq_len=PACKED_SEQ_LEN,
            export_nanogpt=True,
        )
        config.runner.direct_num_workers = 1
        run_tokenize(config, IN_MEMORY)

    return build_once(tmp_path_factory, "alice_packed_shards" if packed else "alice_shards", build) / "shards"


@pytest.fixture(scope="session")
def alice_shards(tmp_path_factory, alice_tokenize_inputs) -> Path:
    """`alice_tokenize_inputs` through `run_tokenize` (Beam DirectRunner) in documents mode:
    about 93k train and 10k validation tokens in 5 + 1 shards, and their nanoGPT export."""
    return _alice_shards(tmp_path_factory, alice_tokenize_inputs, packed=False)


@pytest.fixture(scope="session")
def alice_packed_shards(tmp_path_factory, alice_tokenize_inputs) -> Path:
    """The same in packed mode: rows are windows of PACKED_SEQ_LEN + 1 tokens."""
    return _alice_shards(tmp_path_factory, alice_tokenize_inputs, packed=True)


@pytest.fixture(scope="session")
def repeated_ids_run(tmp_path_factory) -> Path:
    """tests/helpers.REPEATED_ID_RECORDS (input/records.jsonl, ids in its "doc" field) through
    `prepare` without filters twice: read in ranges of REPEATED_IDS_SPLIT_BYTES into split/ (what
    crossed its shuffles in shuffles.json), and read whole into whole/."""
    from pipeline.cli import main
    from tests.helpers import REPEATED_ID_RECORDS, REPEATED_IDS_SPLIT_BYTES
    from transforms.shuffle_audit import measure_shuffles

    def build(directory: Path) -> None:
        records = directory / "input" / "records.jsonl"
        records.parent.mkdir()
        records.write_text("".join(json.dumps(record) + "\n" for record in REPEATED_ID_RECORDS))
        settings = "filters: {sources: [{source: web, steps: []}]}\nread: {id_field: doc"
        (directory / "whole.yaml").write_text(settings + "}\n")
        (directory / "split.yaml").write_text(settings + f", split_bytes: {REPEATED_IDS_SPLIT_BYTES}}}\n")

        def prepare(run: str) -> int:
            config, output = ["--config", str(directory / f"{run}.yaml")], ["--output", str(directory / run)]
            return main(["prepare", "--input", f"web={records}", *config, *output, "--", *IN_MEMORY])

        with measure_shuffles() as audit:
            assert prepare("split") == 0
        (directory / "shuffles.json").write_text(json.dumps([dataclasses.asdict(t) for t in audit.totals()]))
        assert prepare("whole") == 0

    return build_once(tmp_path_factory, "repeated_ids_run", build)


@pytest.fixture(scope="session")
def decontamination_run(tmp_path_factory) -> Path:
    """The one Beam run of decontamination, under transforms/shuffle_audit.measure_shuffles (what
    crossed in shuffles.json): tests/helpers.DECONTAMINATION_DOCUMENTS (documents.jsonl) through
    `prepare` against bench.jsonl's items in drop mode, into prepare/, and the same documents as a
    docs/ directory through `textshards decontaminate` in redact mode with the index cut into
    several partitions, into decontaminated/."""
    from pipeline.cli import main
    from tests.helpers import DECONTAMINATION_BENCHMARK, DECONTAMINATION_DOCUMENTS
    from transforms.shuffle_audit import measure_shuffles
    from transforms.writers import DOCS_SCHEMA

    def build(directory: Path) -> None:
        documents = directory / "input" / "documents.jsonl"
        documents.parent.mkdir()
        documents.write_text("".join(json.dumps({"text": text}) + "\n" for text in DECONTAMINATION_DOCUMENTS))
        (directory / "bench.jsonl").write_text("".join(json.dumps(item) + "\n" for item in DECONTAMINATION_BENCHMARK))
        # No filter and no dedup: the documents go on as written, and the pipeline is short. The
        # decontaminate step cuts the index into partitions of 10 entries.
        (directory / "prepare.yaml").write_text(
            "filters: {sources: [{source: web, steps: []}]}\ndedup: {exact: false, near: false}\n"
        )
        (directory / "redact.yaml").write_text("decontaminate: {mode: redact, index_memory_bytes: 160}\n")
        docs = directory / "docs" / "docs"
        docs.mkdir(parents=True)
        rows = [{"id": f"web:d.jsonl:{i}", "source": "web", "text": t} for i, t in enumerate(DECONTAMINATION_DOCUMENTS)]
        pq.write_table(pa.Table.from_pylist(rows[:3], schema=DOCS_SCHEMA), docs / "part-00000.parquet")
        pq.write_table(pa.Table.from_pylist(rows[3:], schema=DOCS_SCHEMA), docs / "part-00001.parquet")
        benchmark = f"bench={directory / 'bench.jsonl'}"
        with measure_shuffles() as audit:
            prepare = ["prepare", "--input", f"web={documents}", "--output", str(directory / "prepare")]
            prepare += ["--config", str(directory / "prepare.yaml"), "--decontaminate", benchmark]
            assert main([*prepare, "--", *IN_MEMORY]) == 0
            decontaminate = ["decontaminate", "--docs", str(docs), "--output", str(directory / "decontaminated")]
            decontaminate += ["--config", str(directory / "redact.yaml"), "--decontaminate", benchmark]
            assert main([*decontaminate, "--", *IN_MEMORY]) == 0
        (directory / "shuffles.json").write_text(json.dumps([dataclasses.asdict(t) for t in audit.totals()]))

    return build_once(tmp_path_factory, "decontamination_run", build)
