"""An operator's mistake gets one line saying what is wrong, exit code 2, no traceback; and a
manifest cannot make `verify` or the trainer read a file outside the shard directory.
(A second run on a locked output: tests/test_output_lock.py.)"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from pipeline.cli import _build_parser, main
from pipeline.config import config_from_command_line
from pipeline.prepare import check_documents_written
from tests.helpers import IN_MEMORY, REPO_ROOT

ALICE = REPO_ROOT / "examples" / "corpus" / "books" / "alice29.txt"


def _one_line_error(capsys, argv: list[str]) -> str:
    """Runs the command line; checks exit code 2 and a single line on stderr, which it returns."""
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("textshards: ") and "Traceback" not in err, err
    return err.strip()


def _prepare(output: Path | str, *beam_args: str) -> list[str]:
    return ["prepare", "--input", f"alice={ALICE}", "--output", str(output), "--", *(beam_args or IN_MEMORY)]


def _unwritable_directory(tmp_path: Path) -> Path:
    """A directory this process cannot create files in. Permission bits do not stop root, so as
    root it is /sys/kernel, which nobody may write to."""
    if os.geteuid() == 0:
        return Path("/sys/kernel")
    directory = tmp_path / "read-only"
    directory.mkdir(mode=0o555)
    return directory


def test_an_output_path_that_is_a_file_is_one_line(tmp_path, capsys):
    (tmp_path / "out").write_text("not a directory")
    err = _one_line_error(capsys, _prepare(tmp_path / "out"))
    assert err == f"textshards: output {str(tmp_path / 'out')!r} is a file; give a directory"


def test_an_output_directory_that_cannot_be_written_is_one_line(tmp_path, capsys):
    directory = _unwritable_directory(tmp_path)
    err = _one_line_error(capsys, _prepare(directory))
    assert err.startswith(f"textshards: output {str(directory)!r} is not writable: ")
    err = _one_line_error(capsys, _prepare(directory / "new"))
    assert err.startswith(f"textshards: output {str(directory / 'new')!r} cannot be created: ")


def test_an_unknown_runner_is_one_line_before_any_work(tmp_path, capsys):
    err = _one_line_error(capsys, _prepare(tmp_path / "out", "--runner", "FastRunner"))
    assert "--runner: Unexpected pipeline runner: FastRunner. Valid values are DataflowRunner" in err
    assert not (tmp_path / "out").exists()


def test_no_document_out_is_one_line_unless_allowed(tmp_path, capsys):
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "empty.txt").write_bytes(b"")
    output = tmp_path / "out"
    argv = ["prepare", "--input", f"web={tmp_path / 'corpus'}", "--output", str(output)]
    # The run's progress lines come first: the error is found after the work, on one line of its own.
    assert main([*argv, "--", *IN_MEMORY]) == 2
    *progress, err = capsys.readouterr().err.splitlines()
    assert all(line.startswith("[textshards] prepare: ") for line in progress), progress
    assert err == (
        "textshards: prepare: no document to write (1 files, 0 documents read, 1 dead letters, 0 dropped): "
        "check the inputs and filters, or allow an empty output with write.allow_empty (--allow-empty)"
    )
    assert not (output / "_SUCCESS").exists()
    # --allow-empty lets the same run through (a second pipeline run would only cost time)
    allowed = config_from_command_line(_build_parser().parse_args([*argv, "--allow-empty"]))
    assert allowed.write.allow_empty
    check_documents_written({"totals": {"files": 1, "dead_letter": {"empty_document": 1}}}, allowed.write.allow_empty)


def test_a_truncated_checkpoint_is_one_line_naming_the_file(tmp_path, capsys):
    torch = pytest.importorskip("torch")
    checkpoint = tmp_path / "best.pt"
    torch.save({"step": 1, "model": {"w": torch.zeros(1000)}}, checkpoint)
    checkpoint.write_bytes(checkpoint.read_bytes()[:2000])  # a copy cut short
    err = _one_line_error(capsys, ["generate", "--checkpoint", str(tmp_path), "--prompt", "Alice"])
    assert err.startswith(f"textshards: {checkpoint}: not a readable checkpoint, truncated or damaged (")


@pytest.fixture
def shards_with_an_escaping_path(alice_shards, tmp_path) -> Path:
    """A copy of alice_shards whose manifest names its first shard `../outside.arrow`, a
    byte-for-byte copy of that shard beside the directory (so size and sha256 would match)."""
    shards = tmp_path / "shards"
    shutil.copytree(alice_shards, shards)
    manifest = json.loads((shards / "manifest.json").read_text())
    entry = manifest["splits"]["train"]["shards"][0]
    shutil.copy(shards / entry["path"], tmp_path / "outside.arrow")
    entry["path"] = "../outside.arrow"
    (shards / "manifest.json").write_text(json.dumps(manifest))
    return shards


def test_verify_refuses_a_manifest_path_that_leaves_the_shard_directory(shards_with_an_escaping_path, capsys):
    assert main(["verify", str(shards_with_an_escaping_path)]) == 1
    out = capsys.readouterr().out
    assert "MISMATCH '../outside.arrow': a manifest path must be relative and stay inside the shard directory" in out


def test_the_trainer_refuses_a_manifest_path_that_leaves_the_shard_directory(shards_with_an_escaping_path):
    from trainer.data import ShardError, read_manifest

    with pytest.raises(ShardError, match=r"'\.\./outside\.arrow': a manifest path must be relative"):
        read_manifest(shards_with_an_escaping_path)


@pytest.mark.parametrize("path", ["../x.arrow", "train/../../x.arrow", "/etc/passwd", "gs://b/x.arrow", "", "a\\..\\b"])
def test_paths_that_leave_the_directory_are_told_from_those_that_stay(path):
    from transforms.shards.relative_paths import leaves_directory

    assert leaves_directory(path)
    assert not leaves_directory("train/shard-00000-of-00005.arrow") and not leaves_directory("tokenizer.json")
