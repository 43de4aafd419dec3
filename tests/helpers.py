"""Helpers that several test modules share (fixtures live in tests/conftest.py)."""

from __future__ import annotations

import hashlib
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

# Beam in this process, one thread: no worker start-up, for pipelines on small inputs.
IN_MEMORY = ["--direct_running_mode=in_memory"]
# Written again by every run: a fingerprint and, for train-tokenizer, timings and memory.
RUN_RECORDS = ("_SUCCESS",)


def file_digests(root: Path) -> dict[str, str]:
    """sha256 of every output file below `root`, by relative path, leaving out each stage's
    _SUCCESS (it records the run, not the outputs). `root` itself is written ROOT (the shard
    manifest records the paths it read)."""
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes().replace(str(root).encode(), b"ROOT")).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file() and path.name not in RUN_RECORDS
    }


@contextmanager
def working_directory(path: Path) -> Iterator[None]:
    """Runs the block in `path`: relative input globs then give ids that do not depend on where
    the checkout or the corpora live."""
    before = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)
