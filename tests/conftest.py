"""Shared test fixtures.

`corpora` is the one way tests reach the real data in ../shared/corpora: it reads
$TEXTSHARDS_CORPORA or falls back to ../shared/corpora beside the repository, and
skips (saying why) where neither exists.
"""

import os
from pathlib import Path

import pytest

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
        pytest.skip(
            "real corpora not found: set TEXTSHARDS_CORPORA or place them at ../shared/corpora"
        )
    return root
