"""Memory and speed of every Beam stage as the corpus grows: does peak memory stay flat? (issue 12)

Run from the repository root (also `make bench`, with the defaults: hours, and 4 GB of disk per 4 GB run):

    .venv/bin/python bench/scale.py [--sizes 0.25 1 4] [--workdir DIR] [--seed 0] [--json FILE]
    .venv/bin/python bench/scale.py --sizes 0.05 0.2            # a quick run

For each size (GB of input), it generates a corpus of distinct documents (cached in --workdir by
size and seed) from the real corpora's texts (`bench.measure.default_corpora`): Project Gutenberg
books (boilerplate stripped, cut at paragraphs into pieces of 2-256 KB), the main text of the web
pages (trafilatura) and the Common Crawl JSONL documents. Each generated document is one of those
texts with 20% of its words replaced by words drawn from the whole corpus (seeded), so no two are
near-duplicates (word 5-gram Jaccard ~0.06); 2% of the documents are injected near-duplicates: a copy
of an earlier document (of 200 words or more) with one word in 200 changed (Jaccard ~0.95), written
to a later file. JSON lines `{"id", "text"}` in files of at most 64 MB (at least 4), plus one
`large.jsonl` with a quarter of the bytes, where a reader that splits files has to split.

Then it runs, each as its own process (`textshards` of this venv, with this checkout first on
PYTHONPATH) on the DirectRunner with the CLI's defaults:
  prepare (default filters), prepare (filters off: filters.web and filters.books empty; dedup on),
  train-tokenizer on the filters-off docs (--sample-mb, the same at every size: the trainer's own
  memory grows with its sample by design, docs/tokenizer.md), tokenize those docs with that tokenizer;
sampling the resident memory of the process and all its descendants (summed, every 0.2 s) and the
wall time. MB/s is of each stage's input: the JSONL files for prepare, the text of the docs for the
others (prepare's stats.json). At --audit-size (default: the smallest) each stage runs once more in
a process of its own inside transforms.shuffle_audit.measure_shuffles, for the bytes that cross a
shuffle (GroupByKey, CombinePerKey) and that side inputs materialise, per byte of the stage's input.
The share of injected near-duplicates that prepare removed counts the pairs whose two documents both
passed the filters. Prints markdown tables; --json writes every figure.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))  # bench.measure, tests.conftest, the packages: from any directory

import numpy as np
import psutil
import pyarrow.parquet as pq

from bench.measure import default_corpora

GENERATOR = "v1"  # part of the cache key: change it when the corpus generation changes
SUBSTITUTED_SHARE = 0.2
NEAR_DUPLICATE_SHARE = 0.02
NEAR_DUPLICATE_MIN_WORDS = 200
WORDS_PER_CHANGE = 200  # a near-duplicate copy has one word in this many changed
FILE_BYTES = 64 * 1024 * 1024
MIN_FILES = 4
LARGE_FILE_SHARE = 0.25
BOOK_PIECE_BYTES = (2_000, 256_000)  # books are cut at paragraphs into pieces of these sizes (log-uniform)
SAMPLE_SECONDS = 0.2
SOURCE = "scale"
STAGES = ("prepare", "prepare, filters off", "train-tokenizer", "tokenize")
DEFAULT_WORKDIR = Path(tempfile.gettempdir()) / "textshards-bench-scale"


# --- The corpus ---------------------------------------------------------------------------------


class Template:
    """A real text split into words and the whitespace between them, kept as it is."""

    def __init__(self, text: str):
        self.parts = np.array(re.split(r"(\s+)", text), dtype=object)  # words at even positions
        self.words = np.array([i for i in range(0, len(self.parts), 2) if self.parts[i]])

    def with_words_replaced(self, rng: np.random.Generator, share: float, pool: np.ndarray, at_least: int = 0) -> str:
        parts = self.parts.copy()
        chosen = self.words[rng.random(len(self.words)) < share]
        if len(chosen) < at_least:
            chosen = rng.choice(self.words, size=at_least, replace=False)
        parts[chosen] = pool[rng.integers(0, len(pool), size=len(chosen))]
        return "".join(parts.tolist())


def paragraph_pieces(text: str, rng: np.random.Generator, piece_bytes: tuple[int, int]) -> list[str]:
    """text cut at blank lines into pieces of at least a target length each, drawn log-uniform in
    piece_bytes (characters); the last piece is what is left, possibly empty."""
    pieces, piece = [], []
    length, target = 0, 0.0
    for paragraph in re.split(r"\n\s*\n", text):
        if not piece:
            length, target = 0, math.exp(rng.uniform(*np.log(piece_bytes)))
        piece.append(paragraph)
        length += len(paragraph)
        if length >= target:
            pieces.append("\n\n".join(piece))
            piece = []
    pieces.append("\n\n".join(piece))
    return pieces


def real_texts(corpora: Path, rng: np.random.Generator) -> list[str]:
    """The corpora's books (in pieces), web pages' main text and JSONL documents, decoded as prepare does."""
    from transforms.encoding import decode_bytes
    from transforms.gutenberg import strip_gutenberg
    from transforms.html_text import extract_main_text

    texts = []
    for path in sorted(p for p in (corpora / "books").rglob("*") if p.is_file()):
        book = strip_gutenberg(decode_bytes(path.read_bytes(), kind="text").text).text.replace("\r\n", "\n")
        texts += paragraph_pieces(book, rng, BOOK_PIECE_BYTES)
    for path in sorted((corpora / "web" / "html").rglob("*.html")):
        texts.append(extract_main_text(decode_bytes(path.read_bytes(), kind="html").text))
    for path in sorted((corpora / "jsonl").rglob("*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as lines:
            texts += [json.loads(line)["text"] for line in lines if line.strip()]
    return [text for text in texts if len(text.split()) >= 20]


def file_plan(total_bytes: int) -> list[tuple[str, int]]:
    """(file name, bytes) for a corpus of total_bytes: parts of at most FILE_BYTES, then large.jsonl."""
    large = int(total_bytes * LARGE_FILE_SHARE)
    parts = max(MIN_FILES, math.ceil((total_bytes - large) / FILE_BYTES))
    return [(f"part-{i:05d}.jsonl", (total_bytes - large) // parts) for i in range(parts)] + [("large.jsonl", large)]


def generate(directory: Path, total_bytes: int, seed: int, corpora: Path) -> dict:
    """Writes the corpus (module doc) into directory; returns its description, also written as info.json."""
    rng = np.random.default_rng(seed)
    templates = [Template(text) for text in real_texts(corpora, rng)]
    pool = np.concatenate([t.parts[t.words] for t in templates])  # every word occurrence: drawn by frequency
    order: list[int] = []
    recent: list[tuple[str, str]] = []  # (id, text) of the originals a copy may be of: the last 256 long enough
    pending: list[bytes] = []  # near-duplicate copies, written at the start of the next file
    pairs, documents, written_bytes = [], 0, 0

    def line(text: str) -> bytes:
        nonlocal documents
        documents += 1
        return json.dumps({"id": f"d{documents:09d}", "text": text}, ensure_ascii=False).encode("utf-8") + b"\n"

    directory.mkdir(parents=True, exist_ok=True)
    plan = file_plan(total_bytes)
    for index, (name, target) in enumerate(plan):
        with open(directory / name, "wb") as out:
            size = sum(out.write(copy) for copy in pending)
            pending = []
            while size < target:
                if recent and rng.random() < NEAR_DUPLICATE_SHARE:
                    original_id, text = recent[rng.integers(len(recent))]
                    original = Template(text)
                    changes = len(original.words) // WORDS_PER_CHANGE
                    pending.append(line(original.with_words_replaced(rng, 0.0, pool, at_least=changes)))
                    pairs.append((f"d{documents:09d}", original_id))
                    continue
                if not order:
                    order = rng.permutation(len(templates)).tolist()
                template = templates[order.pop()]
                text = template.with_words_replaced(rng, SUBSTITUTED_SHARE, pool)  # as many words as template
                size += out.write(line(text))
                if len(template.words) >= NEAR_DUPLICATE_MIN_WORDS:
                    recent = recent[-255:] + [(f"d{documents:09d}", text)]
            if index == len(plan) - 1:
                size += sum(out.write(copy) for copy in pending)
        written_bytes += size
    info = {
        "bytes": written_bytes,
        "documents": documents,
        "files": [name for name, _ in plan],
        "templates": len(templates),
        "seed": seed,
        "near_duplicates": pairs,  # (copy id, original id)
    }
    (directory / "info.json").write_text(json.dumps(info))
    return info


def cached_corpus(workdir: Path, size_gb: float, seed: int, corpora: Path) -> tuple[Path, dict]:
    directory = workdir / f"corpus-{GENERATOR}-{size_gb:g}gb-seed{seed}"
    if (directory / "info.json").is_file():
        return directory, json.loads((directory / "info.json").read_text())
    shutil.rmtree(directory, ignore_errors=True)  # an interrupted generation
    started = time.perf_counter()
    info = generate(directory, int(size_gb * 1e9), seed, corpora)
    print(
        f"generated {directory}: {info['bytes'] / 1e6:.0f} MB, {info['documents']} documents, "
        f"{len(info['near_duplicates'])} near-duplicates, {time.perf_counter() - started:.0f} s",
        file=sys.stderr,
    )
    return directory, info


# --- Running a stage ----------------------------------------------------------------------------


def tree_rss(root: psutil.Process) -> int:
    """Resident bytes of root and all its descendants (shared pages counted in each, as `ps` does)."""
    total = 0
    with contextlib.suppress(psutil.Error):
        for process in [root, *root.children(recursive=True)]:
            with contextlib.suppress(psutil.Error):
                total += process.memory_info().rss
    return total


def run_sampled(argv: list[str], log: Path) -> tuple[float, int]:
    """Runs argv with this checkout first on PYTHONPATH; (wall seconds, peak RSS bytes of its process tree)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])))
    started = time.perf_counter()
    with open(log, "wb") as output:
        child = subprocess.Popen(argv, stdout=output, stderr=subprocess.STDOUT, env=env, cwd=REPO_ROOT)
        root, peak = psutil.Process(child.pid), 0
        while True:
            peak = max(peak, tree_rss(root))
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(timeout=SAMPLE_SECONDS)
                break
    seconds = time.perf_counter() - started
    if child.returncode:
        tail = log.read_text(errors="replace")[-3000:]
        raise RuntimeError(f"{' '.join(argv)} exited with {child.returncode}; {log}:\n{tail}")
    return seconds, peak


def textshards() -> list[str]:
    script = Path(sys.executable).with_name("textshards")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "pipeline.cli"]


def write_prepare_configs(corpus: Path, run: Path) -> None:
    """run/filters.json (the default filters) and run/no-filters.json: the corpus, ids from its records."""
    base = {"inputs": [{"name": SOURCE, "glob": f"{corpus}/*.jsonl", "kind": "jsonl"}], "read": {"id_field": "id"}}
    (run / "filters.json").write_text(json.dumps(base))
    (run / "no-filters.json").write_text(json.dumps({**base, "filters": {"web": [], "books": []}}))


def stage_commands(run: Path, outputs: Path, sample_bytes: int, vocab_size: int) -> dict[str, list[str]]:
    """The textshards arguments of each stage: configs, docs and tokenizer from run, outputs under outputs."""
    docs = str(run / "prepare-no-filters" / "docs")
    return {
        "prepare": ["prepare", "--config", str(run / "filters.json"), "--output", str(outputs / "prepare")],
        "prepare, filters off": [
            "prepare", "--config", str(run / "no-filters.json"), "--output", str(outputs / "prepare-no-filters")
        ],
        "train-tokenizer": [
            "train-tokenizer", "--docs", docs, "--output", str(outputs / "tokenizer"),
            "--sample-bytes", str(sample_bytes), "--vocab-size", str(vocab_size),
        ],
        "tokenize": [
            "tokenize", "--docs", docs, "--tokenizer", str(run / "tokenizer"), "--output", str(outputs / "shards")
        ],
    }  # fmt: skip


def audit_main(into: Path, cli_args: list[str]) -> None:
    """`scale.py --audit-into FILE -- ARGS`: `textshards ARGS` in this process, its shuffles measured."""
    from pipeline.cli import main as textshards_main
    from transforms.shuffle_audit import measure_shuffles

    with measure_shuffles() as audit:
        status = textshards_main(cli_args)
    into.write_text(json.dumps([vars(total) for total in audit.totals()]))
    sys.exit(status)


def docs_text_bytes(prepare_output: Path) -> int:
    """Bytes of text in prepare's docs/, from the lengths of its text column (UTF-8 bytes)."""
    import pyarrow.compute as pc

    total = 0
    for path in sorted((prepare_output / "docs").glob("*.parquet")):
        total += pc.sum(pc.binary_length(pq.read_table(path, columns=["text"])["text"])).as_py() or 0
    return total


def near_duplicates_found(prepare_output: Path, pairs: list[list[str]]) -> dict:
    """Of the injected pairs whose both documents passed the filters, how many prepare linked."""

    def record_id(doc_id: str) -> str:
        return doc_id.rsplit(":", 1)[1]  # SOURCE:PATH:RECORD_ID

    removed = set()
    for path in (prepare_output / "duplicates").glob("*.jsonl"):
        removed |= {record_id(json.loads(line)["removed_id"]) for line in path.read_text().splitlines() if line}
    kept = {
        record_id(i)
        for p in (prepare_output / "docs").glob("*.parquet")
        for i in pq.read_table(p, columns=["id"])["id"].to_pylist()
    }
    present = kept | removed
    eligible = [(a, b) for a, b in pairs if a in present and b in present]
    found = sum(1 for a, b in eligible if a in removed or b in removed)
    injected = {i for pair in pairs for i in pair}
    return {"pairs": len(eligible), "found": found, "other_removed": len(removed - injected)}


# --- The report ---------------------------------------------------------------------------------


def run_size(size_gb: float, args) -> list[dict]:
    corpus, info = cached_corpus(args.workdir, size_gb, args.seed, args.corpora)
    run = args.workdir / f"run-{size_gb:g}gb"
    shutil.rmtree(run, ignore_errors=True)
    run.mkdir(parents=True)
    write_prepare_configs(corpus, run)
    commands = stage_commands(run, run, int(args.sample_mb * 1e6), args.vocab_size)
    audited = stage_commands(run, run / "audit", int(args.sample_mb * 1e6), args.vocab_size)
    rows = []
    for stage, cli_args in commands.items():
        if stage not in args.stages or (stage == "prepare" and size_gb > args.filtered_up_to):
            continue  # the default filters run at about 1 MB/s per core: hours at the largest sizes
        seconds, peak = run_sampled(textshards() + cli_args, run / f"{stage}.log")
        prepare_output = run / ("prepare" if stage == "prepare" else "prepare-no-filters")
        input_bytes = info["bytes"] if stage.startswith("prepare") else docs_text_bytes(prepare_output)
        input_mb = input_bytes / 1e6
        row = dict(size_gb=size_gb, stage=stage, input_mb=input_mb, seconds=seconds, mb_per_s=input_mb / seconds)
        row["peak_rss_mb"] = peak / 1e6
        if stage.startswith("prepare"):
            row["near_duplicates"] = near_duplicates_found(prepare_output, info["near_duplicates"])
        print(f"{size_gb:g} GB {stage}: {seconds:.1f} s, peak {peak / 1e6:.0f} MB", file=sys.stderr)
        if args.audit_size == size_gb:
            # The same stage again, in a process of its own, from the timed run's inputs into outputs of its own.
            totals_file = run / f"{stage}.audit.json"
            audit_run = [sys.executable, __file__, "--audit-into", str(totals_file), "--", *audited[stage]]
            run_sampled(audit_run, run / f"{stage}.audit.log")
            totals = json.loads(totals_file.read_text())
            for kind in ("shuffle", "side_input"):
                row[f"{kind}_per_input_byte"] = sum(t["bytes"] for t in totals if t["kind"] == kind) / input_bytes
            row["audit"] = totals
        rows.append(row)
    if not args.keep_outputs:
        shutil.rmtree(run)
    return rows


def markdown(rows: list[dict]) -> str:
    lines = [
        "| input GB | stage | stage input MB | s | MB/s | peak RSS MB | shuffled / input byte "
        "| side inputs / input byte | near-duplicates removed |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        shuffled = f"{r['shuffle_per_input_byte']:.3f}" if "shuffle_per_input_byte" in r else ""
        side = f"{r['side_input_per_input_byte']:.4f}" if "side_input_per_input_byte" in r else ""
        near = r.get("near_duplicates")
        found = f"{near['found']}/{near['pairs']} (+{near['other_removed']} others)" if near else ""
        lines.append(
            f"| {r['size_gb']:g} | {r['stage']} | {r['input_mb']:.1f} | {r['seconds']:.1f} | {r['mb_per_s']:.2f} "
            f"| {r['peak_rss_mb']:.0f} | {shuffled} | {side} | {found} |"
        )
    sizes = sorted({r["size_gb"] for r in rows})
    if len(sizes) > 1:
        peak = {(r["size_gb"], r["stage"]): r["peak_rss_mb"] for r in rows}
        lines += ["", f"| stage | peak at {sizes[-1]:g} GB / peak at {sizes[0]:g} GB (target <= 1.3) |", "|---|---:|"]
        lines += [
            f"| {s} | {peak[sizes[-1], s] / peak[sizes[0], s]:.2f} |"
            for s in STAGES
            if (sizes[-1], s) in peak and (sizes[0], s) in peak
        ]
    return "\n".join(lines)


def biggest_shuffles(rows: list[dict], count: int = 5) -> str:
    """The largest measured steps of each audited stage, for seeing where the bytes go."""
    lines = []
    for r in rows:
        for total in sorted(r.get("audit", []), key=lambda t: -t["bytes"])[:count]:
            per_byte = total["bytes"] / (r["input_mb"] * 1e6)
            lines.append(f"  {r['stage']:<22}{per_byte:>8.3f}  largest {total['largest']:>11,} B  {total['step']}")
    return "\n".join(["bytes per input byte of the largest shuffles and side inputs:", *lines]) if lines else ""


def main() -> None:
    if sys.argv[1:2] == ["--audit-into"]:
        audit_main(Path(sys.argv[2]), sys.argv[4:])  # --audit-into FILE -- ARGS
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=float, nargs="+", default=[0.25, 1, 4], help="GB of input (default 0.25 1 4)")
    parser.add_argument("--corpora", type=Path, default=default_corpora())
    parser.add_argument(
        "--workdir",
        type=Path,
        default=DEFAULT_WORKDIR,
        help="generated corpora (kept between runs, by size and seed) and each size's run (default: %(default)s)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sample-mb", type=float, default=100, help="train-tokenizer's sample at every size")
    parser.add_argument("--vocab-size", type=int, default=32768)
    parser.add_argument(
        "--audit-size", type=float, help="the size whose stages are also run audited (default: smallest; 0: none)"
    )
    parser.add_argument(
        "--filtered-up-to",
        type=float,
        default=math.inf,
        help="run prepare with the default filters only at sizes up to this many GB (default: every size)",
    )
    parser.add_argument(
        "--stages",
        nargs="+",
        choices=STAGES,
        default=list(STAGES),
        help="the stages to run (default: all; train-tokenizer and tokenize read 'prepare, filters off''s output)",
    )
    parser.add_argument("--keep-outputs", action="store_true", help="keep each size's stage outputs in the workdir")
    parser.add_argument("--json", type=Path, help="also write every figure here")
    args = parser.parse_args()
    args.audit_size = min(args.sizes) if args.audit_size is None else args.audit_size
    args.workdir, args.corpora = args.workdir.resolve(), args.corpora.resolve()
    rows = [row for size in sorted(args.sizes) for row in run_size(size, args)]
    print(
        f"DirectRunner, {os.cpu_count()} cores, load average {os.getloadavg()[1]:.1f} at the end; train-tokenizer "
        f"sample {args.sample_mb:g} MB, vocabulary {args.vocab_size}; peak RSS summed over the process tree, "
        f"sampled every {SAMPLE_SECONDS} s\n"
    )
    print(markdown(rows))
    print("\n" + biggest_shuffles(rows))
    if args.json:
        args.json.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
