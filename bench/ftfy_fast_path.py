"""Throughput of ftfy.fix_text vs transforms.unicode_fix.fix_text on the books + web corpora.

Run from the repository root:
    .venv/bin/python bench/ftfy_fast_path.py [CORPORA_DIR]
Prints MB/s (UTF-8 bytes of decoded text per second, one core, median of 3 runs) and the ratio.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import ftfy

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.conftest, the packages: from any directory
from tests.conftest import corpora_root
from transforms.encoding import decode_bytes
from transforms.unicode_fix import fix_text

RUNS = 3


def load_texts(root: Path) -> list[str]:
    """Every book (kind text) and web page (kind html), decoded."""
    texts = []
    for folder, kind in [("books", "text"), ("web/html", "html")]:
        for path in sorted((root / folder).rglob("*")):
            if path.is_file():
                texts.append(decode_bytes(path.read_bytes(), kind=kind).text)
    return texts


def megabytes_per_second(fix, texts: list[str], total_bytes: int) -> float:
    """Median over RUNS of total_bytes / seconds spent fixing all texts."""
    rates = []
    for _ in range(RUNS):
        start = time.perf_counter()
        for text in texts:
            fix(text)
        rates.append(total_bytes / (time.perf_counter() - start) / 1e6)
    return statistics.median(rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpora", nargs="?", type=Path, help="corpora directory (default: $TEXTSHARDS_CORPORA)")
    root = parser.parse_args().corpora or corpora_root()
    if root is None or not root.is_dir():
        sys.exit("corpora not found: pass the directory or set TEXTSHARDS_CORPORA")
    texts = load_texts(root)
    if not texts:
        sys.exit(f"{root}: no books/ or web/html/ files to measure")
    total_bytes = sum(len(text.encode("utf-8")) for text in texts)
    slow = megabytes_per_second(ftfy.fix_text, texts, total_bytes)
    fast = megabytes_per_second(fix_text, texts, total_bytes)
    print(f"{len(texts)} documents, {total_bytes / 1e6:.1f} MB of UTF-8 text, median of {RUNS} runs")
    print(f"ftfy.fix_text            {slow:7.2f} MB/s")
    print(f"unicode_fix.fix_text     {fast:7.2f} MB/s")
    print(f"speed-up                 {fast / slow:7.1f}x")


if __name__ == "__main__":
    main()
