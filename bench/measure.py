"""What the benchmarks share: where the real corpora are, the prepare job they time, medians, and
Debian packages unpacked for reference texts.

Scripts import it as `bench.measure` with the repository root first on sys.path.
"""

from __future__ import annotations

import statistics
import subprocess
import time
from pathlib import Path

from pipeline.config import Config
from tests.conftest import corpora_path
from transforms.readers import InputSpec

REPO_ROOT = Path(__file__).resolve().parent.parent
CORPUS_FOLDERS = ("books", "web", "jsonl")


def default_corpora() -> Path:
    """$TEXTSHARDS_CORPORA, else ../shared/corpora beside the repository: the tests' corpora."""
    return corpora_path()


def corpus_files(corpora: Path) -> list[Path]:
    """Every file in the corpora's folders (not the top-level notes)."""
    return sorted(p for p in corpora.rglob("*") if p.is_file() and p.parent != corpora)


def prepare_config(corpora: Path, output: str) -> Config:
    """prepare over the corpora's books, web and jsonl folders, one source each, defaults otherwise."""
    return Config(inputs=[InputSpec(name=name, glob=f"{corpora}/{name}/**") for name in CORPUS_FOLDERS], output=output)


def timed_runs(work, runs: int) -> list[float]:
    """Wall-clock seconds of each of `runs` calls of `work`."""
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        timings.append(time.perf_counter() - started)
    return timings


def median_seconds(work, runs: int) -> float:
    """Median wall-clock seconds of `runs` calls of `work`."""
    return statistics.median(timed_runs(work, runs))


def unpacked_debian_package(package: str, directory: Path) -> Path:
    """directory, holding the files of Debian's `package` (`apt-get download`, then `dpkg-deb -x`
    into it). Once per directory: later calls find it unpacked; a .deb of it already there is used."""
    unpacked = directory / f".{package}.unpacked"
    if not unpacked.is_file():
        directory.mkdir(parents=True, exist_ok=True)
        if not any(directory.glob(f"{package}_*.deb")):
            subprocess.run(["apt-get", "download", package], cwd=directory, check=True)
        deb = next(directory.glob(f"{package}_*.deb"))
        subprocess.run(["dpkg-deb", "-x", str(deb), str(directory)], check=True)
        unpacked.touch()
    return directory
