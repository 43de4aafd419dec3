"""Throughput of `textshards prepare` on the DirectRunner: worker processes against this process alone.

Run from the repository root (also `make bench`):

    .venv/bin/python bench/runners.py [--corpora ../shared/corpora] [--runs 3]

Runs prepare over the books, web and jsonl folders of the corpora, --runs times on each of:
  - the DirectRunner in this process, one worker (--direct_running_mode in_memory): the reference;
  - the DirectRunner with one worker process per core (multi_processing, textshards' default).
Prints, per runner, the median wall clock of the whole `run_prepare` (start-up included), MB/s of
input file bytes, documents read per second, the ratio of its throughput to the reference's, and
every run's time.
Every runner must write the reference's stats.json and docs/ byte for byte; the script fails
otherwise. docs/benchmarks.md records the figures.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))  # bench.measure, tests.conftest, the packages: from any directory

from bench.measure import corpus_files, default_corpora, prepare_config, timed_runs
from pipeline.prepare import run_prepare


def output_digest(output: Path) -> str:
    """sha256 over stats.json and every docs/ file, in path order."""
    digest = hashlib.sha256()
    for path in [output / "stats.json", *sorted((output / "docs").glob("*"))]:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def measure(corpora: Path, beam_args: list[str], runs: int, workdir: Path) -> tuple[list[float], int, str]:
    """(seconds of each run, documents read, digest of the outputs) of `runs` prepare runs."""
    results = []

    def prepare_once():
        with tempfile.TemporaryDirectory(dir=workdir) as out:
            report = run_prepare(prepare_config(corpora, out), beam_args)
            results.append((report["totals"]["documents_read"], output_digest(Path(out))))

    seconds = timed_runs(prepare_once, runs)
    if len(set(results)) != 1:
        sys.exit(f"{beam_args}: the runs gave different outputs: {results}")
    return seconds, *results[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpora", type=Path, default=default_corpora())
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    corpora = args.corpora.resolve()
    input_mb = sum(p.stat().st_size for p in corpus_files(corpora)) / 1e6
    cores = os.cpu_count() or 1

    runners = [
        ("DirectRunner, in this process (in_memory)", ["--direct_running_mode=in_memory", "--direct_num_workers=1"]),
        (
            f"DirectRunner, {cores} worker processes (multi_processing)",
            ["--direct_running_mode=multi_processing", f"--direct_num_workers={cores}"],
        ),
    ]
    with tempfile.TemporaryDirectory() as work:
        figures = [(name, *measure(corpora, beam_args, args.runs, Path(work))) for name, beam_args in runners]

    reference_digest = figures[0][3]
    different = [name for name, _, _, digest in figures if digest != reference_digest]
    if different:
        sys.exit(f"outputs differ from the in-process DirectRunner's on: {', '.join(different)}")
    reference_seconds = statistics.median(figures[0][1])
    print(f"corpora: {corpora}  {input_mb:.1f} MB of input files  runs: {args.runs} (medians)  cores: {cores}")
    print(f"{'runner':<52}{'s':>8}{'MB/s':>8}{'docs/s':>9}{'ratio':>8}   every run, s")
    for name, runs, documents, _ in figures:
        seconds = statistics.median(runs)
        print(
            f"{name:<52}{seconds:>8.2f}{input_mb / seconds:>8.2f}{documents / seconds:>9.1f}"
            f"{reference_seconds / seconds:>7.2f}x   {' '.join(f'{s:.1f}' for s in runs)}"
        )
    print("every runner wrote the same stats.json and docs/, byte for byte")


if __name__ == "__main__":
    main()
