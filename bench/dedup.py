"""Dedup benchmarks: MinHash signature throughput next to plain datasketch, and worker memory vs corpus size.

Run from the repository root (also `make bench`; about 30 minutes on 2 busy cores):

    .venv/bin/python bench/dedup.py [--corpora DIR] [--runs 5] [--sample-mb 2]
                                    [--process-scales 1,10] [--scales 1,10,100] [--memory-sources jsonl]

1. Signatures, one core, word 5-grams, 128 permutations, on a --sample-mb sample of the cleaned
   corpus (documents in a fixed shuffled order until the size is reached), from cleaned text to
   signature, every method including the same normalisation (Normalizer.words):
     - datasketch, per document: MinHash() + update_batch(shingle strings), default sha1 hash;
     - datasketch MinHash.bulk, default hash; and with an xxhash 32-bit hashfunc;
     - ours: transforms.dedup.minhash (shingle_hashes + MinHasher.signature), whose signatures
       equal datasketch's with hashfunc=int on the same shingle hashes (checked here).
   MB/s of UTF-8 text, median of --runs; and the mean |J_est - J_true| of ours and of the
   per-document datasketch signatures on edited copies of the sample (exact Jaccard as truth).
2. Memory vs corpus size, the base being the corpus's jsonl documents (--memory-sources)
   repeated with edits (xN: each document plus N-1 edited copies, generated in the pipeline):
   a. --process-scales: the whole `Deduplicate` on part files (written before the pipeline, 2,000
      documents each) on the DirectRunner, multi-process, one SDK worker per core; peak resident
      memory (VmHWM) of each SDK worker and of the runner. The runner holds every shuffle
      (Dataflow keeps them in its shuffle service): here only nodes, keys and edges, no text.
   b. --scales: what Deduplicate's own steps hold, free of that runner effect: the largest
      Python allocation (tracemalloc) during one call of each step (a DoFn.process or a
      FlatMap function, on one element or group), in the in_memory runner. This is what a
      Dataflow worker holds beside its bundle; it must not grow with the corpus.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))  # bench.measure, tests.conftest, the packages: from any directory

import argparse
import functools
import os
import random
import statistics
import tempfile
import threading
import time
import tracemalloc

import apache_beam as beam
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import xxhash
from apache_beam.options.pipeline_options import PipelineOptions
from datasketch import MinHash

from bench.dedup_eval import cleaned_documents, edited_copy
from bench.measure import default_corpora, median_seconds
from transforms.dedup import Deduplicate, components, deduplicate
from transforms.dedup.minhash import MinHasher, estimate_jaccard, exact_jaccard, shingle_hashes, shingle_set
from transforms.dedup.normalize import Normalizer
from transforms.dedup.settings import DedupConfig
from transforms.parts import PartFile

NGRAM, NUM_PERM, SEED = 5, 128, 1


# ---------------------------------------------------------------------------
# 1. Signature throughput and accuracy


def sample(rows: list[dict], megabytes: float) -> list[str]:
    """Texts of documents in a fixed shuffled order until `megabytes` of UTF-8 are reached."""
    order = sorted(rows, key=lambda row: row["id"])
    random.Random(0).shuffle(order)
    texts, size = [], 0
    for row in order:
        if size >= megabytes * 1e6:
            break
        texts.append(row["text"])
        size += len(row["text"].encode("utf-8"))
    return texts


def shingle_strings(words: list[bytes]) -> list[bytes]:
    if len(words) < NGRAM:
        return [b" ".join(words)]
    return [b" ".join(words[i : i + NGRAM]) for i in range(len(words) - NGRAM + 1)]


def signature_methods(normalizer: Normalizer) -> dict:
    hasher = MinHasher(NUM_PERM, SEED)

    def per_document(texts):
        for text in texts:
            m = MinHash(num_perm=NUM_PERM, seed=SEED)
            m.update_batch(shingle_strings(normalizer.words(text)))

    def bulk(texts):
        MinHash.bulk([shingle_strings(normalizer.words(t)) for t in texts], num_perm=NUM_PERM, seed=SEED)

    def bulk_xxh32(texts):
        MinHash.bulk(
            [shingle_strings(normalizer.words(t)) for t in texts],
            num_perm=NUM_PERM,
            seed=SEED,
            hashfunc=xxhash.xxh32_intdigest,
        )

    def ours(texts):
        for text in texts:
            hasher.signature(shingle_hashes(normalizer.words(text), NGRAM))

    return {
        "datasketch MinHash + update_batch, per document": per_document,
        "datasketch MinHash.bulk": bulk,
        "datasketch MinHash.bulk, xxh32 hashfunc": bulk_xxh32,
        "ours (transforms.dedup.minhash)": ours,
    }


def check_identical_to_datasketch(texts: list[str], normalizer: Normalizer) -> None:
    hasher = MinHasher(NUM_PERM, SEED)
    for text in texts:
        hashes = shingle_hashes(normalizer.words(text), NGRAM)
        reference = MinHash(num_perm=NUM_PERM, seed=SEED, hashfunc=int)
        reference.update_batch(hashes.tolist())
        assert np.array_equal(hasher.signature(hashes), reference.hashvalues), "signature differs from datasketch"


def estimation_errors(texts: list[str], normalizer: Normalizer) -> tuple[float, float, int]:
    """Mean |J_est - J_true| of ours and of per-document datasketch, over text/edited-copy pairs."""
    rng = random.Random(1)
    hasher = MinHasher(NUM_PERM, SEED)
    ours, plain = [], []
    for text in texts:
        for rate in (0.005, 0.02, 0.05):
            a, b = normalizer.words(text), normalizer.words(edited_copy(text, rate, rng))
            if len(a) < 50:
                continue
            truth = exact_jaccard(shingle_set(a, NGRAM, bits=64), shingle_set(b, NGRAM, bits=64))
            ours.append(
                abs(
                    estimate_jaccard(
                        hasher.signature(shingle_hashes(a, NGRAM)), hasher.signature(shingle_hashes(b, NGRAM))
                    )
                    - truth
                )
            )
            sketches = []
            for words in (a, b):
                m = MinHash(num_perm=NUM_PERM, seed=SEED)
                m.update_batch(shingle_strings(words))
                sketches.append(m)
            plain.append(abs(sketches[0].jaccard(sketches[1]) - truth))
    return statistics.fmean(ours), statistics.fmean(plain), len(ours)


def bench_signatures(rows: list[dict], megabytes: float, runs: int) -> None:
    texts = sample(rows, megabytes)
    size = sum(len(t.encode("utf-8")) for t in texts) / 1e6
    normalizer = Normalizer(DedupConfig())
    check_identical_to_datasketch(texts, normalizer)
    print(
        f"\n== signatures: {len(texts)} documents, {size:.2f} MB, word {NGRAM}-grams, {NUM_PERM} permutations, "
        f"1 core, median of {runs}"
    )
    print(f"{'method':<52}{'s':>8}{'MB/s':>8}{'x':>7}")
    rates = {}
    for name, method in signature_methods(normalizer).items():
        seconds = median_seconds(lambda: method(texts), runs)
        rates[name] = size / seconds
        print(f"{name:<52}{seconds:>8.3f}{rates[name]:>8.2f}{rates[name] / next(iter(rates.values())):>7.2f}")
    words = [normalizer.words(t) for t in texts]
    hashes = [shingle_hashes(w, NGRAM) for w in words]
    hasher = MinHasher(NUM_PERM, SEED)
    parts = {
        "normalise (Normalizer.words)": lambda: [normalizer.words(t) for t in texts],
        "shingle hashes": lambda: [shingle_hashes(w, NGRAM) for w in words],
        "signatures": lambda: [hasher.signature(h) for h in hashes],
    }
    print(
        "ours, by part: "
        + ", ".join(f"{name} {size / median_seconds(work, runs):.1f} MB/s" for name, work in parts.items())
    )
    error_ours, error_plain, pairs = estimation_errors(texts, normalizer)
    print(
        f"mean |J_est - J_true| over {pairs} edited pairs: ours {error_ours:.4f}, "
        f"datasketch per document {error_plain:.4f}"
    )


# ---------------------------------------------------------------------------
# 2. Worker memory vs corpus size


class PeakMemory:
    """Polls VmHWM (peak resident set) of this process and its descendants until stopped."""

    def __init__(self, interval: float = 0.2):
        self._interval = interval
        self._peaks: dict[int, tuple[str, int]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def _poll(self):
        while not self._stop.is_set():
            for pid in [os.getpid(), *_descendants(os.getpid())]:
                peak = _vm_hwm_kb(pid)
                if peak:
                    self._peaks[pid] = (_cmdline(pid), max(peak, self._peaks.get(pid, ("", 0))[1]))
            self._stop.wait(self._interval)

    def runner_mb(self) -> float:
        return self._peaks.get(os.getpid(), ("", 0))[1] / 1024

    def worker_mb(self) -> list[float]:
        return sorted(
            kb / 1024
            for pid, (cmd, kb) in self._peaks.items()
            if cmd.startswith(sys.executable) and "sdk_worker_main" in cmd
        )


def _descendants(pid: int) -> list[int]:
    children = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return children + [d for c in children for d in _descendants(c)]


def _vm_hwm_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _repeat_with_edits(row: dict, scale: int):
    """The document and scale - 1 edited copies of it (edit rate up to 5%, so most are near-duplicates)."""
    yield row
    rng = random.Random(row["id"])
    for k in range(1, scale):
        yield {**row, "id": f"{row['id']}#x{k}", "text": edited_copy(row["text"], rng.uniform(0, 0.05), rng)}


def write_repeated_parts(base: list[dict], scale: int, work: str, rows_per_part: int = 2000) -> list[PartFile]:
    """The base repeated with edits, as part files of `rows_per_part` documents (as prepare's
    per-document stage would have written them)."""
    parts, batch = [], []

    def flush():
        path = f"{work}/part-{len(parts):05d}.parquet"
        pq.write_table(pa.Table.from_pylist(batch), path)
        parts.append(PartFile((len(parts),), path, 0))

    for row in base:
        for copy in _repeat_with_edits(row, scale):
            batch.append(copy)
            if len(batch) == rows_per_part:
                flush()
                batch = []
    if batch:
        flush()
    return parts


def bench_memory(rows: list[dict], sources: list[str], scales: list[int]) -> None:
    base = [row for row in rows if row["source"] in sources]
    size = sum(len(row["text"].encode("utf-8")) for row in base) / 1e6
    workers = os.cpu_count() or 1
    print(
        f"\n== memory: DirectRunner, multi-process, {workers} SDK workers; base: the corpus's "
        f"{' + '.join(sources)} documents ({len(base)} documents, {size:.1f} MB), repeated with edits"
    )
    print(
        f"{'scale':>6}{'documents':>11}{'MB':>7}  {'pipeline':<34}{'wall s':>7}{'removed':>9}"
        f"{'worker peaks MB':>18}{'runner MB':>11}"
    )
    for scale in scales:
        for name in ["Deduplicate (default config)"]:
            with tempfile.TemporaryDirectory() as work:
                parts = write_repeated_parts(base, scale, work)
                options = PipelineOptions(["--direct_running_mode=multi_processing", f"--direct_num_workers={workers}"])
                started = time.perf_counter()
                with PeakMemory() as memory:
                    with beam.Pipeline(options=options) as pipeline:
                        _ = (
                            pipeline
                            | "Part files" >> beam.Create(parts)
                            | "Spread" >> beam.Reshuffle()
                            | "Deduplicate" >> Deduplicate(DedupConfig(), work)
                        )
                seconds = time.perf_counter() - started
                removed = sum(1 for path in Path(work).glob("duplicates/*.jsonl") for _ in open(path))
            peaks = " / ".join(f"{p:.0f}" for p in memory.worker_mb())
            print(
                f"{scale:>6}{len(base) * scale:>11}{size * scale:>7.0f}  {name:<34}{seconds:>7.0f}{removed:>9}"
                f"{peaks:>18}{memory.runner_mb():>11.0f}"
            )


class PerCallMemory:
    """Peak Python memory (tracemalloc) allocated during one call of each Deduplicate step, max over calls.

    Patches the step functions and DoFn.process methods of transforms.dedup in this process (so
    the pipeline must run in_memory), each call's outputs materialised: what one call holds for
    one element or group, and how much a step keeps between calls (its own state), which is what
    a Dataflow worker holds beside its bundle.
    """

    TARGETS = {
        deduplicate: [
            "_Fingerprint",
            "_LinkBuckets",
            "_VerifyPairs",
            "_members",
            "_ReadMembers",
            "_removed_records",
            "_with_measured_jaccard",
        ],
        components: ["_LargeStar", "_SmallStar", "_Roots"],
    }

    def __init__(self):
        self.peaks: dict[str, int] = {}
        self.calls: dict[str, int] = {}
        self._saved = []

    def __enter__(self):
        tracemalloc.start()
        for module, names in self.TARGETS.items():
            for name in names:
                target = getattr(module, name)
                owner, attribute = (target, "process") if isinstance(target, type) else (module, name)
                original = getattr(owner, attribute)
                self._saved.append((owner, attribute, original))
                setattr(owner, attribute, self._measured(name, original))
        return self

    def __exit__(self, *exc):
        for owner, attribute, original in reversed(self._saved):
            setattr(owner, attribute, original)
        tracemalloc.stop()

    def _measured(self, name, function):
        @functools.wraps(function)
        def measured(*args, **kwargs):
            before = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()
            outputs = list(function(*args, **kwargs) or ())
            peak = tracemalloc.get_traced_memory()[1] - before
            self.peaks[name] = max(self.peaks.get(name, 0), peak)
            self.calls[name] = self.calls.get(name, 0) + 1
            return outputs

        return measured


def bench_per_call_memory(rows: list[dict], sources: list[str], scales: list[int]) -> None:
    base = [row for row in rows if row["source"] in sources]
    print(
        "\n== memory per call (tracemalloc, in_memory runner), same base repeated with edits: "
        "the largest allocation of one call of each step, KB"
    )
    results = {}
    for scale in scales:
        with tempfile.TemporaryDirectory() as work:
            parts = write_repeated_parts(base, scale, work)
            with PerCallMemory() as memory:
                with beam.Pipeline(options=PipelineOptions(["--direct_running_mode=in_memory"])) as pipeline:
                    _ = (
                        pipeline
                        | "Part files" >> beam.Create(parts)
                        | "Deduplicate" >> Deduplicate(DedupConfig(), work)
                    )
            results[scale] = memory
    steps = sorted({name for memory in results.values() for name in memory.peaks})
    print(f"{'step':<26}" + "".join(f"{f'x{scale} calls':>12}{f'x{scale} KB':>10}" for scale in scales))
    for step in steps:
        print(
            f"{step:<26}"
            + "".join(
                f"{results[scale].calls.get(step, 0):>12}{results[scale].peaks.get(step, 0) / 1024:>10.0f}"
                for scale in scales
            )
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpora", type=Path, default=default_corpora())
    parser.add_argument("--runs", type=int, default=5, help="signature timings: runs per method (0 skips)")
    parser.add_argument("--sample-mb", type=float, default=2.0)
    parser.add_argument(
        "--scales",
        default="1,10,100",
        help="corpus multiples for the per-call memory (in_memory runner); empty to skip",
    )
    parser.add_argument(
        "--process-scales",
        default="1,10",
        help="corpus multiples for the multi-process runs (the runner holds every shuffle: "
        "x100 needs about 15 GB); empty to skip",
    )
    parser.add_argument(
        "--memory-sources",
        default="jsonl",
        help="comma-separated sources whose documents are the memory benchmark's base",
    )
    args = parser.parse_args()
    started = time.perf_counter()
    rows = cleaned_documents(args.corpora.resolve())
    print(f"{len(rows)} cleaned documents from {args.corpora} in {time.perf_counter() - started:.0f} s")
    if args.runs:
        bench_signatures(rows, args.sample_mb, args.runs)
    sources = args.memory_sources.split(",")
    if args.process_scales:
        bench_memory(rows, sources, [int(s) for s in args.process_scales.split(",")])
    if args.scales:
        bench_per_call_memory(rows, sources, [int(s) for s in args.scales.split(",")])


if __name__ == "__main__":
    main()
