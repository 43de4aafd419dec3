"""Throughput of `textshards tokenize` and of its encoder, next to `tokenizers` on the same vocabulary.

Run from the repository root (also `make bench`):

    .venv/bin/python bench/tokenize_shards.py [--corpora ../shared/corpora] [--docs DIR/docs] [--tokenizer TOK]
                                       [--mb 100] [--runs 3] [--vocab-size 32000]

Without --docs, runs `textshards prepare` on the corpora's books, web and jsonl first; without
--tokenizer, trains a byte-level BPE of --vocab-size tokens on those documents
(tokenizer_training.bpe.train_tokenizer). The documents are repeated (fresh ids) to at least
--mb MB of text, so start-up does not dominate, and written as prepare would write them
(docs/part-NNNNN.parquet, one file per 128 MiB). Measured in one run of this script, each the
median of --runs repetitions, on every core of this machine:

  - tokenizers: Tokenizer.encode_batch(texts, add_special_tokens=False) (its own threads, all
    cores), and encode_batch_fast, which skips offsets;
  - fast: the encoder the pipeline uses (transforms.encode.FastEncoder: tiktoken, documents cut
    into pieces spread over threads) over the same texts, one thread per core, and one thread;
  - stage: run_tokenize, the whole Beam pipeline (read, encode, shuffle, write shards and
    manifest; start-up included) on the DirectRunner as tokenize runs by default (one in-memory
    process, encoder threads on every core), and with --direct_running_mode=multi_processing
    (one worker process per core).

Checks that the fast encoder's ids equal tokenizers' on every (distinct) document, and prints
MB/s of UTF-8 text, the fast/tokenizers ratio and the stage/fast ratio; docs/benchmarks.md
records the figures.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))  # bench.measure, tests.conftest, the packages: from any directory

import numpy as np
import pyarrow.parquet as pq

from bench.measure import default_corpora
from pipeline.config import Config
from pipeline.prepare import run_prepare
from pipeline.tokenize import run_tokenize
from tokenizer_training.bpe import (
    TokenizerConfig,
    train_tokenizer,
)
from transforms.bpe import load_tokenizer, tokenizer_json
from transforms.encode import FastEncoder, ReferenceEncoder, TokenizeConfig
from transforms.readers import InputSpec
from transforms.tokenizer_file import read_tokenizer_file
from transforms.writers import parquet_bytes, shard_of

PREPARE_SHARD_BYTES = 128 * 1024 * 1024
BARE = "fast encoder, {cores} threads"
STAGE = "tokenize stage (default: in-memory, start-up included)"
STAGE_PROCESSES = "tokenize stage ({cores} worker processes)"


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (Beam's worker processes)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


CPU = {}  # name -> median CPU seconds, printed beside the wall-clock figures


def median_seconds(runs: int, work, name: str = "") -> float:
    """Median wall-clock seconds of `runs` calls of `work` (and its median CPU seconds in CPU[name])."""
    times, cpu = [], []
    for _ in range(runs):
        started, started_cpu = time.perf_counter(), cpu_seconds()
        work()
        times.append(time.perf_counter() - started)
        cpu.append(cpu_seconds() - started_cpu)
    CPU[name] = statistics.median(cpu)
    return statistics.median(times)


def prepared_docs(corpora: Path, workdir: Path) -> Path:
    output = workdir / "prepare"
    config = Config(
        inputs=[InputSpec(name=name, glob=f"{corpora}/{name}/**") for name in ("books", "web", "jsonl")],
        output=str(output),
    )
    run_prepare(config, [])
    return output / "docs"


def read_rows(docs: Path) -> list[dict]:
    return [row for path in sorted(docs.glob("*.parquet")) for row in pq.read_table(path).to_pylist()]


def repeated_docs(rows: list[dict], megabytes: float, workdir: Path) -> tuple[Path, list[str]]:
    """The rows repeated (ids suffixed #k) to at least `megabytes` MB, written like prepare's docs."""
    size = sum(len(row["text"].encode("utf-8")) for row in rows)
    copies = max(1, math.ceil(megabytes * 1e6 / size))
    repeated = [{**row, "id": f"{row['id']}#{k}"} for k in range(copies) for row in rows]
    files = max(1, math.ceil(size * copies / PREPARE_SHARD_BYTES))
    docs = workdir / "repeated" / "docs"
    docs.mkdir(parents=True)
    for index in range(files):
        part = sorted((r for r in repeated if shard_of(r["id"], files) == index), key=lambda r: r["id"])
        (docs / f"part-{index:05d}.parquet").write_bytes(parquet_bytes(part))
    (docs.parent / "_SUCCESS").write_text("{}\n")
    return docs, [row["text"] for row in repeated]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpora", type=Path, default=default_corpora())
    parser.add_argument("--docs", type=Path, help="a prepare output's docs directory (default: run prepare)")
    parser.add_argument("--tokenizer", help="tokenizer.json or its directory (default: train one)")
    parser.add_argument("--vocab-size", type=int, default=32000)
    parser.add_argument("--mb", type=float, default=100.0, help="MB of text to encode (documents repeated)")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    cores = os.cpu_count() or 1

    with tempfile.TemporaryDirectory(prefix="bench-tokenize-") as tmp:
        workdir = Path(tmp)
        docs = args.docs or prepared_docs(args.corpora, workdir)
        rows = read_rows(docs)
        if args.tokenizer:
            tokenizer_path = args.tokenizer
        else:
            started = time.perf_counter()
            trained = train_tokenizer(
                [row["text"] for row in rows], TokenizerConfig(vocab_size=args.vocab_size), show_progress=False
            )
            tokenizer_path = str(workdir / "tokenizer.json")
            Path(tokenizer_path).write_bytes(tokenizer_json(trained))
            print(f"trained a {trained.get_vocab_size()}-token BPE in {time.perf_counter() - started:.1f} s")
        tokenizer = read_tokenizer_file(tokenizer_path, "<|endoftext|>")
        if tokenizer.fast_path_problem:
            print(f"the fast path cannot serve {tokenizer_path}: {tokenizer.fast_path_problem}")
            return 1
        repeated, texts = repeated_docs(rows, args.mb, workdir)
        megabytes = sum(len(t.encode("utf-8")) for t in texts) / 1e6
        print(
            f"{len(rows)} documents repeated to {len(texts)} ({megabytes:.1f} MB of text, "
            f"{len(list(repeated.glob('*.parquet')))} parquet file(s)); vocabulary {tokenizer.vocab_size}; "
            f"{cores} cores; {args.runs} runs each"
        )

        reference = load_tokenizer(tokenizer.path)
        spec = json.loads(tokenizer.data)
        fast, single = FastEncoder(spec, cores), FastEncoder(spec, 1)
        distinct = [row["text"] for row in rows]
        expected = ReferenceEncoder(tokenizer.path).encode_batch(distinct)
        assert all(np.array_equal(a, b) for a, b in zip(fast.encode_batch(distinct), expected)), "ids differ"
        print(f"identical ids on all {len(distinct)} distinct documents")

        def stage(beam_args: list[str]):
            output = Path(tempfile.mkdtemp(dir=workdir, prefix="shards-"))
            config = Config(output=str(output), tokenize=TokenizeConfig(docs=str(repeated), tokenizer=tokenizer_path))
            manifest = run_tokenize(config, beam_args)
            assert manifest["encoder"]["backend"] == "tiktoken"

        work = {
            "tokenizers encode_batch (all cores)": lambda: reference.encode_batch(texts, add_special_tokens=False),
            "tokenizers encode_batch_fast (all cores)": lambda: reference.encode_batch_fast(
                texts, add_special_tokens=False
            ),
            BARE.format(cores=cores): lambda: fast.encode_batch(texts),
            "fast encoder, 1 thread": lambda: single.encode_batch(texts),
            STAGE: lambda: stage([]),
            STAGE_PROCESSES.format(cores=cores): lambda: stage(["--direct_running_mode=multi_processing"]),
        }
        figures = {name: median_seconds(args.runs, run, name) for name, run in work.items()}

    print(f"\n{'':<56}{'s':>8}{'MB/s':>8}{'CPU s':>8}")
    for name, seconds in figures.items():
        print(f"{name:<56}{seconds:>8.2f}{megabytes / seconds:>8.2f}{CPU[name]:>8.2f}")
    baseline = figures["tokenizers encode_batch (all cores)"]
    bare = figures[BARE.format(cores=cores)]
    print(
        f"\nfast encoder / tokenizers encode_batch, same cores: {baseline / bare:.2f}x "
        f"(/ encode_batch_fast: {figures['tokenizers encode_batch_fast (all cores)'] / bare:.2f}x)"
    )
    print(
        f"tokenize stage / bare fast encoder, same cores: {bare / figures[STAGE]:.0%} "
        f"(multi-process: {bare / figures[STAGE_PROCESSES.format(cores=cores)]:.0%})"
    )
    print(f"load average during the run: {os.getloadavg()[0]:.1f} (figures are only comparable on an idle machine)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
