"""CPU training throughput: `textshards train`'s loop against a plain PyTorch loop of the same model.

Run from the repository root (also `make bench`):

    .venv/bin/python bench/train.py [--rounds 5] [--steps 150] [--threads 2] [--quality]

The workload is nanoGPT's CPU example (README: shakespeare_char at `--block_size=64
--batch_size=12 --n_layer=4 --n_head=4 --n_embd=128 --dropout=0.0`, no bias): the `tiny`
preset on tiny Shakespeare (`../shared/corpora/books/karpathy__char-rnn/...`), one token per
character, vocabulary 65, first 90% train and last 10% validation, as nanoGPT's prepare.py.
The characters are written as a shard set in the tokenize stage's format (its Arrow writer,
one row per split; no end-of-text token, as nanoGPT has none, hence verify=size).

Each round runs, in this process, on the same threads, alternately:
  plain:  the same GPT (trainer.model) and AdamW, batches drawn nanoGPT's way (torch.randint
          over an in-memory array, stack), lr set each step, clip, step. Nothing else.
  ours:   trainer.train.train() on the shard set: memory-mapped windows, the seeded sampler,
          bookkeeping, a progress line every 10 steps, metrics.jsonl, a checkpoint at the end.
Steady tokens/s excludes each loop's first 10 steps (start-up, allocator warm-up); ours is read
from its metrics.jsonl windows, which exclude evaluation and checkpoints. Figures are medians
over rounds; the ratio is per round (paired), so machine noise cancels as far as it can.

On a shared machine wall-clock rates swing with the neighbours' load, so each round also
measures CPU time per step (process time, which others' load barely moves): the plain loop's
over its steady steps, ours as the difference between a run of --steps and one of a third as
many (start-up, the final evaluation, checkpoint and plot cancel out). Use --threads 1 for it
to mean work done, and OMP_WAIT_POLICY=PASSIVE on a busy machine (spinning OpenMP threads
otherwise burn CPU and wall time waiting for cores).

--quality also trains ours for 2,000 steps with nanoGPT's shakespeare_char hyperparameters
(lr 1e-3 to 1e-4, warmup 100, beta2 0.99) and reports the validation loss (nanoGPT: 1.886).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))  # bench.measure, tests.conftest, the packages: from any directory

import numpy as np
import pyarrow as pa
import torch

from bench.measure import default_corpora
from trainer.config import build_config
from trainer.metrics import read_metrics
from trainer.model import GPT, GPTConfig
from trainer.train import lr_at, make_optimizer, train
from transforms.shards.arrow import docs_schema, shard_bytes

CORPORA = default_corpora()
SHAKESPEARE = CORPORA / "books" / "karpathy__char-rnn" / "data" / "tinyshakespeare" / "input.txt"
WARMUP_STEPS = 10
# nanoGPT's README CPU run, in our config's names.
TINY = {"preset": "tiny", "batch_size": 12, "dropout": 0.0, "bias": False, "vocab_multiple": 1, "verify": "size"}


def char_shards(text: str, out: Path) -> tuple[Path, np.ndarray]:
    """Tiny Shakespeare as character-level shards (vocabulary 65); returns the directory and the
    train split's ids (for the plain loop)."""
    chars = sorted(set(text))
    index = {c: i for i, c in enumerate(chars)}
    ids = np.array([index[c] for c in text], dtype=np.uint16)
    cut = int(len(ids) * 0.9)
    tokenizer = json.dumps({"characters": chars}).encode("utf-8")  # not a tokenizers file: never decoded here
    (out / "train").mkdir(parents=True)
    (out / "validation").mkdir()
    (out / "tokenizer.json").write_bytes(tokenizer)
    splits = {}
    for split, part, text_part in (("train", ids[:cut], text[:cut]), ("validation", ids[cut:], text[cut:])):
        table = pa.table(
            {
                "input_ids": pa.array([part], pa.list_(pa.uint16())),
                "id": [f"tinyshakespeare:{split}"],
                "source": ["tinyshakespeare"],
                "num_tokens": pa.array([len(part)], pa.uint32()),
            },
            schema=docs_schema("uint16"),
        )
        data = shard_bytes(table)
        path = f"{split}/shard-00000-of-00001.arrow"
        (out / path).write_bytes(data)
        entry = {
            "path": path,
            "rows": 1,
            "documents": 1,
            "tokens": len(part),
            "tokens_dropped": 0,
            "text_bytes": len(text_part.encode("utf-8")),
            "bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
        }
        splits[split] = {"shards": [entry], **{k: entry[k] for k in entry if k not in ("path", "sha256")}}
    manifest = {
        "format": "textshards.shards",
        "version": 1,
        "mode": "documents",
        "seq_len": None,
        "dtype": "uint16",
        "eos_id": 0,
        "eos_token": chars[0],
        "vocab_size": len(chars),
        "tokenizer_file": "tokenizer.json",
        "tokenizer_sha256": hashlib.sha256(tokenizer).hexdigest(),
        "splits": splits,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return out, ids[:cut]


def plain_loop(data: np.ndarray, steps: int, seed: int) -> tuple[float, float]:
    """nanoGPT's loop, nothing added: steady tokens/s and CPU seconds per step."""
    config = build_config({**TINY, "max_steps": steps})
    dims = config.model_dims()
    block, batch = dims["block_size"], config.batch_size
    torch.manual_seed(seed)
    model = GPT(GPTConfig(vocab_size=65, dropout=0.0, bias=False, **dims))
    optimizer = make_optimizer(model, config, torch.device("cpu"))
    model.train()
    for step in range(1, steps + 1):
        if step == WARMUP_STEPS + 1:
            started, cpu_started = time.perf_counter(), time.process_time()
        ix = torch.randint(len(data) - block, (batch,))
        x = torch.stack([torch.from_numpy(data[i : i + block].astype(np.int64)) for i in ix])
        y = torch.stack([torch.from_numpy(data[i + 1 : i + 1 + block].astype(np.int64)) for i in ix])
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, config)
        _, loss = model(x, y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    return (steps - WARMUP_STEPS) * batch * block / seconds, cpu / (steps - WARMUP_STEPS)


def our_loop(shards: Path, rundir: Path, steps: int, seed: int, threads: int) -> tuple[float, float]:
    """trainer.train.train(): steady tokens/s from its metrics.jsonl (windows after the first),
    and CPU seconds per step from the difference with a run of a third of the steps."""

    def run(n: int) -> float:
        cpu_started = time.process_time()
        train(
            rundir,
            {
                **TINY,
                "shards": str(shards),
                "max_steps": n,
                "seed": seed,
                "log_interval": WARMUP_STEPS,
                "eval_interval": n,
                "eval_windows": 24,
                "threads": threads,
            },
            fresh=True,
        )
        return time.process_time() - cpu_started

    short = steps // 3
    cpu_short = run(short)
    cpu_long = run(steps)
    windows = [m for m in read_metrics(rundir / "metrics.jsonl") if m["kind"] == "train"]
    tokens = windows[-1]["tokens"] - windows[0]["tokens"]
    seconds = sum((b["tokens"] - a["tokens"]) / b["tokens_per_s"] for a, b in zip(windows, windows[1:]))
    return tokens / seconds, (cpu_long - cpu_short) / (steps - short)


def quality(shards: Path, rundir: Path, threads: int) -> None:
    started = time.perf_counter()
    summary = train(
        rundir,
        {
            **TINY,
            "shards": str(shards),
            "max_steps": 2000,
            "lr": 1e-3,
            "min_lr_fraction": 0.1,
            "warmup_steps": 100,
            "beta2": 0.99,
            "eval_interval": 250,
            "eval_windows": 400,
            "log_interval": 100,
            "threads": threads,
        },
        fresh=True,
    )
    print(
        f"\nquality: 2,000 steps in {time.perf_counter() - started:.0f} s; validation loss "
        f"{summary['best_val_loss']:.3f} at step {summary['best_step']} (nanoGPT's README: 1.886 on its own "
        "20 random validation batches)"
    )


def _row(label: str, row) -> str:
    return f"{label:>6}{row[0]:>13,.0f}{row[1]:>12,.0f}{row[2]:>12.3f}{row[3]:>19.1f}{row[4]:>18.1f}{row[5]:>12.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=150, help="optimizer steps per loop and round")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--quality", action="store_true", help="also train 2,000 steps and report validation loss")
    args = parser.parse_args()
    if not SHAKESPEARE.exists():
        sys.exit(f"bench/train.py: {SHAKESPEARE} not found (set TEXTSHARDS_CORPORA)")
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        shards, data = char_shards(SHAKESPEARE.read_text(encoding="utf-8"), Path(tmp) / "shards")
        print(
            f"tiny preset (4 layers, 4 heads, 128 dims, block 64, batch 12), vocabulary 65, {args.threads} threads, "
            f"torch {torch.__version__}; load average {os.getloadavg()[0]:.2f} at start"
        )
        print(
            f"{'round':>6}{'plain tok/s':>13}{'ours tok/s':>12}{'ours/plain':>12}"
            f"{'plain ms CPU/step':>19}{'ours ms CPU/step':>18}{'ours/plain':>12}"
        )
        rows = []
        for i in range(args.rounds):
            plain_rate, plain_cpu = plain_loop(data, args.steps, seed=i)
            our_rate, our_cpu = our_loop(shards, Path(tmp) / "run", args.steps, seed=i, threads=args.threads)
            rows.append(
                (plain_rate, our_rate, our_rate / plain_rate, 1e3 * plain_cpu, 1e3 * our_cpu, our_cpu / plain_cpu)
            )
            print(_row(str(i + 1), rows[-1]), flush=True)
        medians = [statistics.median(column) for column in zip(*rows)]
        print(_row("median", medians))
        print(
            f"load average {os.getloadavg()[0]:.2f} at end. Our cost over the plain loop: wall-clock "
            f"{100 * (1 / medians[2] - 1):+.1f}%, CPU time {100 * (medians[5] - 1):+.1f}% (target < 5%); "
            "nanoGPT's train.py on a quiet machine: about 18,800 tok/s with 2 threads"
        )
        if args.quality:
            quality(shards, Path(tmp) / "quality", args.threads)


if __name__ == "__main__":
    main()
