"""Throughput of `textshards prepare` on the real corpora, next to its raw parts.

Run from the repository root (also `make bench`):

    .venv/bin/python bench/prepare.py [--corpora ../shared/corpora] [--runs 3]

Measures, in one run of this script, each as the median of --runs repetitions:
  - prepare: the whole Beam pipeline (DirectRunner, multi-process, one worker per core)
    over books, web and jsonl of the corpora: MB/s of input file bytes, wall clock;
  - the raw libraries alone on one core, on the same documents:
      trafilatura.extract over every HTML page (MB/s of decoded HTML);
      ftfy.fix_text over every decoded text (MB/s of text), and our fix_text with its
      fast path on the same texts (identical output, checked here too).
Prints a table with the ratios; docs/benchmarks.md records the figures.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))  # bench.measure, tests.conftest, the packages: from any directory

import ftfy
import trafilatura

from bench.measure import corpus_files, default_corpora, median_seconds, prepare_config
from pipeline.prepare import run_prepare
from transforms.encoding import decode_bytes
from transforms.unicode_fix import fix_text


def decoded_texts(corpora: Path) -> tuple[list[str], list[str]]:
    """(html pages, all texts) decoded the way prepare decodes them."""
    pages, texts = [], []
    for path in sorted((corpora / "web" / "html").rglob("*.html")):
        page = decode_bytes(path.read_bytes(), kind="html").text
        pages.append(page)
        texts.append(page)
    for path in sorted((corpora / "books").rglob("*")):
        if path.is_file():
            texts.append(decode_bytes(path.read_bytes(), kind="text").text)
    for path in sorted((corpora / "jsonl").rglob("*.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as lines:
            texts += [json.loads(line)["text"] for line in lines if line.strip()]
    return pages, texts


def mb(texts: list[str]) -> float:
    return sum(len(t.encode("utf-8")) for t in texts) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpora", type=Path, default=default_corpora())
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    corpora = args.corpora.resolve()

    input_mb = sum(p.stat().st_size for p in corpus_files(corpora)) / 1e6

    def prepare_once():
        with tempfile.TemporaryDirectory() as out:
            run_prepare(prepare_config(corpora, out), [])

    prepare_s = median_seconds(prepare_once, args.runs)

    pages, texts = decoded_texts(corpora)
    extract_s = median_seconds(lambda: [trafilatura.extract(p) for p in pages], args.runs)
    ftfy_s = median_seconds(lambda: [ftfy.fix_text(t) for t in texts], args.runs)
    fast_s = median_seconds(lambda: [fix_text(t) for t in texts], args.runs)
    assert all(fix_text(t) == ftfy.fix_text(t) for t in texts), "fast path changed ftfy's output"

    cores = os.cpu_count()
    rows = [
        (f"prepare, whole pipeline ({cores} workers)", input_mb, prepare_s),
        ("trafilatura.extract (1 core)", mb(pages), extract_s),
        ("ftfy.fix_text (1 core)", mb(texts), ftfy_s),
        ("transforms.unicode_fix.fix_text (1 core)", mb(texts), fast_s),
    ]
    print(f"corpora: {corpora}  runs: {args.runs} (medians)")
    print(f"{'step':<46}{'MB':>8}{'s':>8}{'MB/s':>8}")
    for name, size, seconds in rows:
        print(f"{name:<46}{size:>8.1f}{seconds:>8.2f}{size / seconds:>8.2f}")
    print(f"fix_text speed-up over ftfy.fix_text: {ftfy_s / fast_s:.1f}x (identical output)")
    print(f"prepare MB/s per core / trafilatura MB/s: {input_mb / prepare_s / cores / (mb(pages) / extract_s):.2f}")


if __name__ == "__main__":
    main()
