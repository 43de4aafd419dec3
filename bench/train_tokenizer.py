"""Training time and peak memory of `textshards train-tokenizer`, next to `tokenizers` called
directly on the same sample in the same run.

Run from the repository root (also `make bench`):

    .venv/bin/python bench/train_tokenizer.py [--corpora ../shared/corpora | --docs DIR/docs]
                                              [--runs 3] [--vocab-size 8000] [--sample-mb 5,10,20]

The documents are prepare's docs of the corpora (prepared once here, not timed) or --docs.
For each sample size, as the median of --runs repetitions, each in a fresh process:
  - ours: the whole command (Beam sampling on the DirectRunner, multi-process, one worker per
    core; training; the held-out report): wall clock, each phase's seconds and the driver's
    peak RSS after each phase (from TOKDIR/_SUCCESS);
  - raw: read the same sample's texts (chosen here with tokenizer_training.sample's pure
    functions) and train with tokenizers' BpeTrainer directly, whole documents in, same
    settings: training seconds, RSS before training and peak RSS.
Both tokenizer.json files must be byte-identical (checked): the same sample and config.
Prints a table with the ratios; docs/benchmarks.md records the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))  # bench.measure, tests.conftest, the packages: from any directory

import pyarrow as pa
import pyarrow.parquet as pq

from bench.measure import default_corpora


def raw_training(sample_path: str, vocab_size: int, output: str) -> None:
    """The baseline, in its own process: tokenizers alone, as its documentation shows it."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    from tokenizer_training.memory import peak_rss_mb, reset_peak_rss, rss_mb

    texts = pq.read_table(sample_path).column("text").to_pylist()
    before = rss_mb()
    reset_peak_rss()
    started = time.perf_counter()
    tokenizer = Tokenizer(models.BPE(fuse_unk=False, byte_fallback=False))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=["<|endoftext|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer)
    seconds = time.perf_counter() - started
    Path(output).write_text(tokenizer.to_str(pretty=True) + "\n", encoding="utf-8")
    print(json.dumps({"seconds": seconds, "rss_before_mb": before, "peak_rss_mb": peak_rss_mb()}))


def choose_sample(docs: Path, sample_bytes: int, vocab_size: int) -> list[str]:
    """The texts DrawSample keeps, chosen with the same pure functions, in one process."""
    from tokenizer_training.bpe import TokenizerConfig
    from tokenizer_training.sample import add_totals, document_totals, plan_sample, sample_rank, within_budget
    from transforms.sampling import hash_fraction

    settings = TokenizerConfig(vocab_size=vocab_size, sample_bytes=sample_bytes)
    rows = pq.read_table(docs, columns=["id", "source", "text"]).to_pylist()
    parts: dict[str, list] = {}
    for row in rows:
        source, totals = document_totals(row)
        parts.setdefault(source, []).append(totals)
    plans = plan_sample({source: add_totals(p) for source, p in parts.items()}, settings)
    candidates = []
    for row in rows:
        fraction, plan = hash_fraction(row["id"]), plans[row["source"]]
        rank = sample_rank(fraction, plan) if fraction < plan.heldout_from else None
        if rank is not None:
            candidates.append(((rank, row["id"]), len(row["text"].encode("utf-8")), row["text"]))
    last = within_budget([(key, size) for key, size, _ in candidates], sample_bytes)[-1][0]
    return [text for key, _, text in candidates if key <= last]


def run_ours(docs: Path, out: Path, sample_bytes: int, vocab_size: int) -> dict:
    started = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pipeline.cli",
            "train-tokenizer",
            "--docs",
            str(docs),
            "--output",
            str(out),
            "--vocab-size",
            str(vocab_size),
            "--sample-bytes",
            str(sample_bytes),
        ],
        cwd=REPO_ROOT,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wall = time.perf_counter() - started
    success = json.loads((out / "_SUCCESS").read_text())
    return {
        "wall": wall,
        **{f"{k}_s": v for k, v in success["seconds"].items()},
        **{f"rss_{k}_mb": v for k, v in success["peak_rss_mb"].items()},
        "rss_before_mb": success["rss_before_training_mb"],
        "sample_bytes": success["sample_bytes"],
    }


def run_raw(sample_path: Path, vocab_size: int, out: Path) -> dict:
    result = subprocess.run(
        [sys.executable, __file__, "--raw", str(sample_path), str(vocab_size), str(out)],
        cwd=REPO_ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def median_of(runs: list[dict]) -> dict:
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "--raw":
        raw_training(sys.argv[2], int(sys.argv[3]), sys.argv[4])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpora", type=Path, default=default_corpora())
    parser.add_argument("--docs", type=Path, help="prepare's DIR/docs to use instead of preparing the corpora")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--vocab-size", type=int, default=8000)
    parser.add_argument("--sample-mb", default="5,10,20", help="sample sizes in MB, comma-separated")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as temp:
        temp = Path(temp)
        docs = args.docs
        if docs is None:
            from pipeline.config import Config
            from pipeline.prepare import run_prepare
            from transforms.readers import InputSpec

            corpora = args.corpora.resolve()
            run_prepare(
                Config(
                    inputs=[InputSpec(name=n, glob=f"{corpora}/{n}/**") for n in ("books", "web", "jsonl")],
                    output=str(temp / "prepared"),
                ),
                [],
            )
            docs = temp / "prepared" / "docs"
        corpus_mb = sum(len(t.encode()) for t in pq.read_table(docs, columns=["text"]).column("text").to_pylist()) / 1e6
        print(
            f"docs: {docs} ({corpus_mb:.1f} MB of text)  vocabulary: {args.vocab_size}  runs: {args.runs} (medians)  "
            f"cores: {os.cpu_count()}"
        )
        header = (
            f"{'sample MB':>9} | {'ours: all':>9} {'sample':>7} {'train':>7} {'report':>7} | {'raw train':>9} | "
            f"{'train/raw':>9} {'all/raw':>8} | {'peak RSS MB: ours':>17} {'raw':>6} | "
            f"{'growth MB: ours':>15} {'raw':>6} | {'growth/sample: ours':>19} {'raw':>6}"
        )
        print(header)
        for sample_mb in [float(x) for x in args.sample_mb.split(",")]:
            sample_bytes = int(sample_mb * 1e6)
            texts = choose_sample(docs, sample_bytes, args.vocab_size)
            sample_path = temp / "sample.parquet"
            pq.write_table(pa.table({"text": pa.array(texts, pa.large_string())}), sample_path)
            ours_runs, raw_runs = [], []
            for i in range(args.runs):
                ours_runs.append(run_ours(docs, temp / f"ours{i}", sample_bytes, args.vocab_size))
                raw_runs.append(run_raw(sample_path, args.vocab_size, temp / f"raw{i}.json"))
                assert (temp / f"ours{i}" / "tokenizer.json").read_bytes() == (temp / f"raw{i}.json").read_bytes(), (
                    "ours and raw tokenizers differ: not the same sample or settings"
                )
            ours, raw = median_of(ours_runs), median_of(raw_runs)
            assert ours["sample_bytes"] == sum(len(t.encode()) for t in texts)
            growth = {
                "ours": ours["rss_train_mb"] - ours["rss_before_mb"],
                "raw": raw["peak_rss_mb"] - raw["rss_before_mb"],
            }
            mb = ours["sample_bytes"] / 1e6
            print(
                f"{mb:>9.1f} | {ours['wall']:>9.2f} {ours['sample_s']:>7.2f} "
                f"{ours['train_s']:>7.2f} {ours['report_s']:>7.2f} | {raw['seconds']:>9.2f} | "
                f"{ours['train_s'] / raw['seconds']:>9.2f} {ours['wall'] / raw['seconds']:>8.2f} | "
                f"{ours['rss_train_mb']:>17.0f} {raw['peak_rss_mb']:>6.0f} | "
                f"{growth['ours']:>15.0f} {growth['raw']:>6.0f} | "
                f"{growth['ours'] / mb:>19.1f} {growth['raw'] / mb:>6.1f}"
            )
        print(
            "ours: the whole command in a fresh process (sample: Beam step; train; report: held-out figures). "
            "growth: peak RSS during training minus RSS just before it (ours: the driver after the Beam step; "
            "raw: with the sample's texts loaded); growth/sample in MB per MB = GB per GB of sample."
        )


if __name__ == "__main__":
    main()
