"""Measure the candidate WARC readers and HTML main-text extractors on the real corpora.

Run from the repository root:

    .venv/bin/python bench/web_readers.py [--corpora ../shared/corpora]

Prints three tables:
  (a) WARC iteration, fastwarc vs warcio: records/s and MB/s (compressed file bytes),
      median of 3 runs, files held in memory so disk speed does not count;
  (b) HTML extraction speed, resiliparse vs trafilatura: MB/s of HTML input (UTF-8 bytes
      of the decoded page), median of 3 runs over every page in web/html;
  (c) extraction quality against trafilatura's evaldata.json gold snippets, scored the way
      trafilatura's own evaluation does ("with" present = TP, absent = FN; "without"
      present = FP, absent = TN; counts summed over pages, then precision/recall/F1).
The numbers and the decision they led to are in docs/web-readers.md.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import trafilatura
from fastwarc.warc import ArchiveIterator as FastwarcIterator
from resiliparse.extract.html2text import extract_plain_text
from resiliparse.parse.html import HTMLTree
from warcio.archiveiterator import ArchiveIterator as WarcioIterator

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))  # bench.measure, tests.conftest, the packages: from any directory

RUNS = 3
WARC_PASSES_PER_RUN = 20  # the WARC files total 0.65 MB: one pass is too short to time reliably

from bench.measure import default_corpora
from transforms.encoding import decode_bytes


def decode_html(data: bytes) -> str:
    return decode_bytes(data, kind="html").text


DECODER = "transforms.encoding.decode_bytes(kind='html')"


def count_fastwarc(data: bytes) -> int:
    """Records in one WARC file read by fastwarc, payloads de-chunked and decompressed."""
    records = 0
    try:
        for record in FastwarcIterator(io.BytesIO(data), parse_http=True, auto_decode="all"):
            record.reader.read()
            records += 1
    except Exception:  # a defect ends the file for fastwarc; the records before it count
        pass
    return records


def count_warcio(data: bytes) -> int:
    """Records in one WARC/ARC file read by warcio, payloads de-chunked and decompressed."""
    records = 0
    try:
        for record in WarcioIterator(io.BytesIO(data), arc2warc=True):
            record.content_stream().read()
            records += 1
    except Exception:
        pass
    return records


def bench_warc(files: list[Path]) -> list[dict]:
    """Records/s and compressed MB/s of each library over all `files` (median of RUNS runs)."""
    blobs = [path.read_bytes() for path in files]
    megabytes = sum(len(blob) for blob in blobs) * WARC_PASSES_PER_RUN / 1e6
    rows = []
    for name, count in (("fastwarc", count_fastwarc), ("warcio", count_warcio)):
        per_file = [count(blob) for blob in blobs]
        seconds = []
        for _ in range(RUNS):
            start = time.perf_counter()
            for _ in range(WARC_PASSES_PER_RUN):
                for blob in blobs:
                    count(blob)
            seconds.append(time.perf_counter() - start)
        median = statistics.median(seconds)
        records = sum(per_file) * WARC_PASSES_PER_RUN
        rows.append(
            {
                "library": name,
                "records": sum(per_file),
                "records_per_s": records / median,
                "mb_per_s": megabytes / median,
                "per_file": dict(zip((f.name for f in files), per_file)),
            }
        )
    return rows


def extract_resiliparse(html: str, url: str | None) -> str:
    return extract_plain_text(HTMLTree.parse(html), main_content=True)


def extract_trafilatura(html: str, url: str | None) -> str:
    return trafilatura.extract(html, url=url, include_comments=False) or ""


EXTRACTORS: dict[str, Callable[[str, str | None], str]] = {
    "resiliparse": extract_resiliparse,
    "trafilatura": extract_trafilatura,
}


def bench_extract_speed(pages: list[str]) -> dict[str, float]:
    """MB/s of HTML (UTF-8 bytes of the decoded pages) per extractor, median of RUNS runs."""
    megabytes = sum(len(page.encode("utf-8")) for page in pages) / 1e6
    speeds = {}
    for name, extract in EXTRACTORS.items():
        seconds = []
        for _ in range(RUNS):
            start = time.perf_counter()
            for page in pages:
                extract(page, None)
            seconds.append(time.perf_counter() - start)
        speeds[name] = megabytes / statistics.median(seconds)
    return speeds


def score(text: str, with_snippets: list[str], without_snippets: list[str]) -> tuple[int, int, int, int]:
    """(TP, FN, FP, TN) of one page, as trafilatura's evaluation counts them."""
    tp = sum(1 for s in with_snippets if s in text)
    fp = sum(1 for s in without_snippets if s in text)
    return tp, len(with_snippets) - tp, fp, len(without_snippets) - fp


def bench_extract_quality(
    html_root: Path, extractors: dict[str, Callable[[str, str | None], str]] = EXTRACTORS
) -> tuple[int, dict[str, dict[str, float]]]:
    """Number of gold pages found and precision/recall/F1 per extractor of `extractors`."""
    gold = json.loads((html_root / "evaldata.json").read_text(encoding="utf-8"))
    cases = []
    for url, item in gold.items():
        for folder in ("eval", "cache"):
            page = html_root / folder / item["file"]
            if page.is_file():
                cases.append((url, decode_html(page.read_bytes()), item["with"], item["without"]))
                break
    results = {}
    for name, extract in extractors.items():
        tp = fn = fp = tn = 0
        for url, html, with_snippets, without_snippets in cases:
            a, b, c, d = score(extract(html, url), with_snippets, without_snippets)
            tp, fn, fp, tn = tp + a, fn + b, fp + c, tn + d
        precision, recall = tp / (tp + fp), tp / (tp + fn)
        results[name] = {
            "tp": tp,
            "fn": fn,
            "fp": fp,
            "tn": tn,
            "precision": precision,
            "recall": recall,
            "f1": 2 * precision * recall / (precision + recall),
            "accuracy": (tp + tn) / (tp + fn + fp + tn),
        }
    return len(cases), results


def print_quality(quality: dict[str, dict[str, float]], name_width: int) -> None:
    """The table of bench_extract_quality's results, one extractor a row."""
    print(f"{'extractor':<{name_width}}{'TP':>6}{'FN':>6}{'FP':>6}{'TN':>6}{'prec':>7}{'recall':>8}{'F1':>7}{'acc':>7}")
    for name, r in quality.items():
        print(
            f"{name:<{name_width}}{r['tp']:>6}{r['fn']:>6}{r['fp']:>6}{r['tn']:>6}"
            f"{r['precision']:>7.3f}{r['recall']:>8.3f}{r['f1']:>7.3f}{r['accuracy']:>7.3f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpora", type=Path, default=default_corpora())
    args = parser.parse_args()

    warc_files = sorted(p for p in (args.corpora / "web" / "warc").rglob("*") if p.is_file())
    print(f"(a) WARC iteration over {len(warc_files)} files, median of {RUNS} runs x {WARC_PASSES_PER_RUN} passes")
    print(f"{'library':<12}{'records':>8}{'records/s':>12}{'MB/s':>9}")
    for row in bench_warc(warc_files):
        print(f"{row['library']:<12}{row['records']:>8}{row['records_per_s']:>12,.0f}{row['mb_per_s']:>9.1f}")
        print("            per file:", row["per_file"])

    html_files = sorted(p for p in (args.corpora / "web" / "html").rglob("*") if p.is_file() and p.suffix != ".json")
    pages = [decode_html(p.read_bytes()) for p in html_files]
    print(f"\n(b) extraction speed over {len(pages)} pages, decoded with {DECODER}")
    for name, speed in bench_extract_speed(pages).items():
        print(f"{name:<12}{speed:>9.2f} MB/s")

    html_root = args.corpora / "web" / "html" / "adbar__trafilatura" / "tests"
    found, quality = bench_extract_quality(html_root)
    print(f"\n(c) quality on the {found} evaldata.json pages present in the corpora")
    print_quality(quality, name_width=12)


if __name__ == "__main__":
    main()
