"""Shared test fixtures.

`corpora` is the one way tests reach the real data in ../shared/corpora: it reads
$TEXTSHARDS_CORPORA or falls back to ../shared/corpora beside the repository, and
skips (saying why) where neither exists.
"""

import os
import shutil
from pathlib import Path

import pytest
from filelock import FileLock

from tests.helpers import working_directory

REPO_ROOT = Path(__file__).resolve().parent.parent


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
    """examples/demo.yaml's prepare, train-tokenizer and tokenize, in run/{prepare,tokenizer,shards}."""
    from pipeline.config import load_config_file

    def build(directory: Path) -> None:
        with working_directory(REPO_ROOT):  # the demo's globs are relative to the checkout
            _run_stages(load_config_file(REPO_ROOT / "examples" / "demo.yaml"), directory / "run")

    return build_once(tmp_path_factory, "demo_run", build) / "run"


@pytest.fixture(scope="session")
def corpora_run(tmp_path_factory, corpora) -> Path:
    """The real corpora (books, web, jsonl) with the default settings through prepare,
    train-tokenizer (a 4,096-token vocabulary) and tokenize (a tenth in validation), in
    run/{prepare,tokenizer,shards}. Inputs are read through a `corpora` link by relative globs."""
    from pipeline.config import Config, InputSpec

    def build(directory: Path) -> None:
        (directory / "corpora").symlink_to(corpora)
        config = Config(inputs=[InputSpec(name=n, glob=f"corpora/{n}/**") for n in ("books", "web", "jsonl")])
        config.tokenizer.vocab_size = 4096
        config.tokenize.validation_fraction = 0.1
        with working_directory(directory):
            _run_stages(config, directory / "run")

    return build_once(tmp_path_factory, "corpora_run", build) / "run"
