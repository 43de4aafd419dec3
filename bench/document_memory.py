"""Memory per document: the peak resident memory of prepare's per-document path for one large document.

Each size runs in a process of its own: one single-line JSON-lines file of book text from the
corpora, then read_file, clean_document and filter_document (the path ProcessParts takes), and
after that every step of the default web list, whether or not one dropped the document. Prints
the peak resident memory after each stage over the process's size once its models are loaded,
in MB and as a multiple of the document's size (docs/reliability.md, "Memory per document").

    python bench/document_memory.py [--sizes-mb 8 32]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.measure import REPO_ROOT, default_corpora  # noqa: E402

BOOK = "books/RU-ECE__ECE451-Parallel/data/pg1342.txt"


def memory_mb(field: str) -> float:
    """VmRSS (resident now) or VmHWM (the peak since the last reset_peak) of this process, in MB."""
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) / 1024 for line in status if line.startswith(f"{field}:"))


def reset_peak() -> None:
    """Sets VmHWM to VmRSS (Linux): a peak reached while loading the models does not hide later ones."""
    with open("/proc/self/clear_refs", "w") as clear_refs:
        clear_refs.write("5")


def measure(path: str) -> dict:
    """The peaks of one process that reads, cleans and filters the one document in `path`."""
    from transforms.clean import CleanConfig, clean_document
    from transforms.filters.stage import FiltersConfig, Steps, filter_document
    from transforms.readers import InputSpec, ReadConfig, read_file

    steps = Steps(FiltersConfig())
    steps.build_all()
    reset_peak()
    base = memory_mb("VmRSS")
    [doc] = read_file(InputSpec(name="big", glob=path), path, ReadConfig())
    size_mb = doc.size_bytes() / 1e6
    peaks = {"read": memory_mb("VmHWM") - base}
    row = clean_document(doc, CleanConfig())
    del doc
    peaks["clean"] = memory_mb("VmHWM") - base
    filter_document(row, steps.for_row(row))
    for step in steps.for_row(row):
        step.keep(row["text"])
    peaks["filter"] = memory_mb("VmHWM") - base
    return {"document_mb": round(size_mb, 1)} | {
        stage: f"{mb:.0f} MB ({mb / size_mb:.1f}x)" for stage, mb in peaks.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes-mb", type=int, nargs="+", default=[8, 32])
    parser.add_argument("--measure", help=argparse.SUPPRESS)  # the child process: the file to measure
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure)))
        return
    book = (default_corpora() / BOOK).read_text(encoding="utf-8", errors="replace")
    with tempfile.TemporaryDirectory() as scratch:
        for size_mb in args.sizes_mb:
            path = Path(scratch) / f"doc-{size_mb}.jsonl"
            text = (book * (size_mb * 2**20 // len(book) + 1))[: size_mb * 2**20]
            path.write_text(json.dumps({"text": text}) + "\n")
            del text
            child = [sys.executable, __file__, "--measure", str(path)]
            print(subprocess.run(child, check=True, capture_output=True, text=True, cwd=REPO_ROOT).stdout.strip())


if __name__ == "__main__":
    main()
