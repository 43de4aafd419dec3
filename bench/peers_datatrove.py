"""The same chain side by side: datatrove 0.10.1 against `textshards prepare` + `tokenize` (issue 12).

Run from the repository root (also `make bench`; datatrove comes with the bench extra):

    pip install -e '.[bench]'
    .venv/bin/python bench/peers_datatrove.py [--runs 3] [--mb 50] [--workdir DIR]

The input: --mb of JSON lines from bench/scale.py's generator (cached in --workdir, shared with
scale.py): real text of the corpora (Project Gutenberg books cut at paragraphs, the main text of the
web pages, the Common Crawl JSONL documents) with 20% of the words of each document replaced, so that
50 MB of distinct documents exist where the corpora hold about 26 MB of text; 2% are near-duplicates.
Both sides read the same files, as web documents (JSON lines), and encode with the same tokenizer.json:
a 32,768-token byte-level BPE that tokenizer_training trains once on the input (cached).

The chain, each side with its own implementation of every step:
  datatrove: JsonlReader -> FTFYFormatter -> GopherQualityFilter -> C4QualityFilter (5 words per line,
    3 sentences: the T5 paper's values, which are ours) -> JsonlWriter + MinhashDedupSignature;
    MinhashDedupBuckets (14 buckets of 9 hashes, as our 14 bands x 9 rows); MinhashDedupCluster;
    JsonlReader -> MinhashDedupFilter -> DocumentTokenizer. Four LocalPipelineExecutor stages, one
    task per core (14 bucket tasks on as many workers), as datatrove's minhash example chains them.
  ours: `textshards prepare` (cleaning with ftfy, filters.web = [gopher_quality, c4], exact and
    MinHash dedup) and `textshards tokenize`, each with the CLI's defaults (DirectRunner).
Each side runs as processes of its own, timed wall-clock from start to exit (imports and start-up
included); the figure is the median of --runs. Documents kept and tokens written are printed for
both: they differ where the two read the rules differently (docs/benchmarks.md, filters).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from statistics import median

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))  # bench.measure, tests.conftest, the packages: from any directory

EOS = "<|endoftext|>"
VOCAB_SIZE = 32768
OUR_FILTERS = ["gopher_quality", "c4"]


def xxhash64_of_text(text: str) -> int:
    """datatrove 0.10.1 hashes shingles as str, which xxhash 4 refuses; xxhash 3 encoded them as UTF-8 (its
    processing extra pins xxhash<4, which our dependencies do not allow)."""
    import xxhash

    return xxhash.xxh64_intdigest(text.encode("utf-8"))


def datatrove_main(corpus: Path, tokenizer: Path, out: Path, tasks: int) -> None:
    """`peers_datatrove.py --datatrove CORPUS TOKENIZER OUT`: the whole datatrove chain into OUT."""
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup import (
        MinhashDedupBuckets,
        MinhashDedupCluster,
        MinhashDedupFilter,
        MinhashDedupSignature,
    )
    from datatrove.pipeline.dedup.minhash import MinhashConfig
    from datatrove.pipeline.filters import C4QualityFilter, GopherQualityFilter
    from datatrove.pipeline.formatters import FTFYFormatter
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.tokens import DocumentTokenizer
    from datatrove.pipeline.writers import JsonlWriter

    from bench.peers_datatrove import xxhash64_of_text  # by this name, not __main__'s: the workers import it

    minhash = MinhashConfig(n_grams=5, num_buckets=14, hashes_per_bucket=9)
    filtered, signatures, buckets, removed = (str(out / name) for name in ("filtered", "sigs", "buckets", "remove"))
    signature = MinhashDedupSignature(signatures, config=minhash)
    signature._hash_func = xxhash64_of_text
    steps = [
        [
            JsonlReader(str(corpus), glob_pattern="*.jsonl"),
            FTFYFormatter(),
            GopherQualityFilter(),
            C4QualityFilter(min_words_per_line=5, min_num_sentences=3),
            JsonlWriter(filtered),
            signature,
        ],
        [MinhashDedupBuckets(signatures, buckets, config=minhash)],
        [MinhashDedupCluster(buckets, removed, config=minhash)],
        [
            JsonlReader(filtered),
            MinhashDedupFilter(removed),
            DocumentTokenizer(str(out / "tokens"), str(tokenizer), eos_token=EOS),
        ],
    ]
    stage_tasks = [tasks, minhash.num_buckets, 1, tasks]
    executor = None
    for index, (pipeline, count) in enumerate(zip(steps, stage_tasks)):
        logs = str(out / "logs" / str(index))
        executor = LocalPipelineExecutor(pipeline, tasks=count, workers=tasks, logging_dir=logs, depends=executor)
    assert executor is not None
    executor.run()


def datatrove_output(out: Path) -> tuple[int, int]:
    """(documents, tokens) datatrove's DocumentTokenizer wrote: 8 bytes per document end, 2 per token."""
    tokens = out / "tokens"
    return sum(p.stat().st_size for p in tokens.glob("*.ds.index")) // 8, sum(
        p.stat().st_size for p in tokens.glob("*.ds")
    ) // 2


def our_output(shards: Path) -> tuple[int, int]:
    """(documents, tokens) in our manifest, both splits."""
    splits = json.loads((shards / "manifest.json").read_text())["splits"].values()
    return sum(s["documents"] for s in splits), sum(s["tokens"] for s in splits)


def trained_tokenizer(corpus: Path, path: Path) -> Path:
    """A byte-level BPE trained on the first 20 MB of the corpus, once."""
    if not path.is_file():
        from tokenizer_training.bpe import TokenizerConfig, train_tokenizer

        texts, size = [], 0
        for part in sorted(corpus.glob("*.jsonl")):
            for line in open(part, encoding="utf-8"):
                if size < 20e6:
                    texts.append(json.loads(line)["text"])
                    size += len(texts[-1])
        train_tokenizer(texts, TokenizerConfig(vocab_size=VOCAB_SIZE), show_progress=False).save(str(path))
    return path


def timed(argv: list[str], log: Path) -> float:
    """Wall seconds of argv, run with this checkout first on PYTHONPATH; raises with the log's tail if it fails."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])))
    started = time.perf_counter()
    with open(log, "wb") as output:
        status = subprocess.run(argv, stdout=output, stderr=subprocess.STDOUT, env=env, cwd=REPO_ROOT).returncode
    if status:
        raise RuntimeError(f"{' '.join(argv)} exited with {status}; {log}:\n{log.read_text(errors='replace')[-3000:]}")
    return time.perf_counter() - started


def main() -> None:
    if sys.argv[1:2] == ["--datatrove"]:
        corpus, tokenizer, out = (Path(a) for a in sys.argv[2:5])
        return datatrove_main(corpus, tokenizer, out, os.cpu_count() or 1)
    from bench.measure import default_corpora
    from bench.scale import DEFAULT_WORKDIR, cached_corpus, textshards

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--mb", type=float, default=50, help="MB of input (default 50)")
    parser.add_argument("--corpora", type=Path, default=default_corpora())
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR, help="cache and outputs (%(default)s)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep-outputs", action="store_true", help="keep every run's outputs in WORKDIR/peers")
    args = parser.parse_args()
    workdir = args.workdir.resolve()
    corpus, info = cached_corpus(workdir, args.mb / 1000, args.seed, args.corpora.resolve())
    tokenizer = trained_tokenizer(corpus, workdir / f"{corpus.name}-bpe{VOCAB_SIZE}.json")
    runs = workdir / "peers"
    shutil.rmtree(runs, ignore_errors=True)
    runs.mkdir(parents=True)
    config = runs / "ours.json"
    inputs = [{"name": "peers", "glob": f"{corpus}/*.jsonl", "kind": "jsonl"}]
    config.write_text(json.dumps({"inputs": inputs, "filters": {"web": OUR_FILTERS, "books": OUR_FILTERS}}))

    theirs, prepare, tokenize = [], [], []
    for run in range(args.runs):
        out = runs / f"run-{run}"
        out.mkdir()
        datatrove = [sys.executable, __file__, "--datatrove", str(corpus), str(tokenizer), str(out / "dt")]
        theirs.append(timed(datatrove, out / "datatrove.log"))
        ours_prepare = ["prepare", "--config", str(config), "--output", str(out / "prepare")]
        prepare.append(timed(textshards() + ours_prepare, out / "prepare.log"))
        docs = str(out / "prepare" / "docs")
        ours_tokenize = ["tokenize", "--docs", docs, "--tokenizer", str(tokenizer), "--output", str(out / "shards")]
        tokenize.append(timed(textshards() + ours_tokenize, out / "tokenize.log"))
        print(
            f"run {run}: datatrove {theirs[-1]:.1f} s, ours {prepare[-1]:.1f} + {tokenize[-1]:.1f} s", file=sys.stderr
        )
    ours = [p + t for p, t in zip(prepare, tokenize)]
    their_docs, their_tokens = datatrove_output(runs / f"run-{args.runs - 1}" / "dt")
    our_docs, our_tokens = our_output(runs / f"run-{args.runs - 1}" / "shards")
    cores = os.cpu_count()
    print(
        f"{info['bytes'] / 1e6:.1f} MB, {info['documents']} documents (bench/scale.py, seed {args.seed}); {cores} "
        f"cores, load average {os.getloadavg()[1]:.1f} at the end; medians of {args.runs} runs\n"
    )
    print("| chain | s | MB/s | every run, s | documents out | tokens out |")
    print("|---|---:|---:|---|---:|---:|")
    for name, seconds, docs, tokens in (
        (f"datatrove 0.10.1, LocalPipelineExecutor, {cores} tasks", theirs, their_docs, their_tokens),
        (
            f"textshards prepare + tokenize ({median(prepare):.1f} + {median(tokenize):.1f} s)",
            ours,
            our_docs,
            our_tokens,
        ),
    ):
        every = " ".join(f"{s:.1f}" for s in seconds)
        mb_per_s = info["bytes"] / 1e6 / median(seconds)
        print(f"| {name} | {median(seconds):.1f} | {mb_per_s:.2f} | {every} | {docs} | {tokens} |")
    print(f"\nours / datatrove: {median(theirs) / median(ours):.2f}x the speed")
    if not args.keep_outputs:
        shutil.rmtree(runs)


if __name__ == "__main__":
    main()
