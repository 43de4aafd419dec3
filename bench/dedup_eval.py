"""Precision and recall of `Deduplicate` on near-duplicates of real documents with controlled edits.

Run from the repository root:

    .venv/bin/python bench/dedup_eval.py [--corpora DIR] [--copies 2] [--seed 0] [--threshold 0.8]
                                         [--verify signature] [--runner-mode in_memory]

1. Cleans every document of the real corpora (books, web, jsonl) with the real readers and
   `clean_document` (Gutenberg stripping included).
2. Gives each document with at least MIN_WORDS words 1..--copies edited copies: every word is
   substituted, deleted or followed by an inserted word with probability p (p uniform in
   [0, MAX_EDIT_RATE], so copies spread from Jaccard ~0.4 to 1.0), sometimes a paragraph moves
   and sometimes the tail is cut.
3. Runs the real `Deduplicate` pipeline (DirectRunner) over originals and copies together.
4. Ground truth: the exact word-5-gram Jaccard (normalised text, 64-bit shingle sets) of every
   candidate pair: each document with its copies, every pair the pipeline put in one component,
   and every pair datasketch's own MinHashLSH (256 permutations, threshold 0.5) proposes, so that
   natural near-duplicates the pipeline missed count against its recall.
5. Reports, at the configured threshold t:
   - pair precision / recall: pairs with Jaccard >= t are positives; a pair is predicted positive
     when both documents end in one component (so chaining A~B~C counts A-C);
   - removal precision: the share of removed documents whose Jaccard to the kept one is >= t;
   - recall per Jaccard bin, and the mean |J_est - J_true| of our signatures and of plain
     datasketch (per-document MinHash + update_batch, default sha1 hash) on the same pairs.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))  # bench.measure, tests.conftest, the packages: from any directory

import argparse
import glob
import itertools
import json
import os
import random
import statistics
import tempfile
import time
from collections import defaultdict
from multiprocessing import Pool

import apache_beam as beam
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.options.pipeline_options import PipelineOptions
from datasketch import MinHash, MinHashLSH

from bench.measure import default_corpora
from transforms.clean import (
    CleanConfig,
    clean_document,
)
from transforms.dedup import Deduplicate
from transforms.dedup.minhash import MinHasher, estimate_jaccard, exact_jaccard, shingle_hashes, shingle_set
from transforms.dedup.normalize import Normalizer
from transforms.dedup.settings import DedupConfig
from transforms.parts import PartFile
from transforms.readers import (
    InputSpec,
    ReadConfig,
    read_file,
)
from transforms.records import RawDocument

SOURCES = ("books", "web", "jsonl")
MIN_WORDS = 50
MAX_EDIT_RATE = 0.1


# ---------------------------------------------------------------------------
# Real documents, cleaned the way `prepare` cleans them.


def _clean_file(source: str, folder: str, path: str) -> list[dict]:
    """The cleaned rows of one file of the source read from `folder`: ids as prepare gives them."""
    return [
        row
        for item in read_file(InputSpec(name=source, glob=folder), path, ReadConfig())
        if isinstance(item, RawDocument) and isinstance(row := clean_document(item, CleanConfig()), dict)
    ]


def cleaned_documents(corpora: Path, workers: int = os.cpu_count() or 1) -> list[dict]:
    """Every document of the corpora's books, web and jsonl folders as a cleaned docs row, by id."""
    files = [
        (source, f"{corpora}/{source}", path)
        for source in SOURCES
        for path in sorted(glob.glob(f"{corpora}/{source}/**", recursive=True))
        if os.path.isfile(path)
    ]
    with Pool(workers) as pool:
        rows = [row for rows in pool.starmap(_clean_file, files) for row in rows]
    return sorted(rows, key=lambda row: row["id"])


# ---------------------------------------------------------------------------
# Controlled edits.


def edited_copy(text: str, rate: float, rng: random.Random) -> str:
    """`text` with each word substituted, deleted or followed by an insertion with probability `rate`;
    with probability 0.3 a paragraph (line) moves, with probability 0.2 up to 10% of the lines are cut
    from the end."""
    lines = text.split("\n")
    vocabulary = text.split() or ["word"]
    edited = []
    for line in lines:
        words = []
        for word in line.split(" "):
            if rng.random() >= rate:
                words.append(word)
                continue
            action = rng.randrange(3)
            if action == 0:
                words.append(rng.choice(vocabulary))
            elif action == 2:
                words += [word, rng.choice(vocabulary)]
        edited.append(" ".join(words))
    if len(edited) > 2 and rng.random() < 0.3:
        moved = edited.pop(rng.randrange(len(edited)))
        edited.insert(rng.randrange(len(edited)), moved)
    if len(edited) > 10 and rng.random() < 0.2:
        edited = edited[: len(edited) - rng.randrange(len(edited) // 10 + 1)]
    return "\n".join(edited)


def evaluation_documents(originals: list[dict], copies: int, seed: int) -> tuple[list[dict], list[tuple[str, str]]]:
    """(originals with MIN_WORDS+ words and their edited copies, (original id, copy id) pairs)."""
    rng = random.Random(seed)
    documents, families = [], []
    for row in originals:
        if len(row["text"].split()) < MIN_WORDS:
            continue
        documents.append(row)
        for k in range(rng.randint(1, copies)):
            copy = {
                **row,
                "id": f"{row['id']}#copy{k}",
                "url": None,
                "text": edited_copy(row["text"], rng.uniform(0, MAX_EDIT_RATE), rng),
            }
            documents.append(copy)
            families.append((row["id"], copy["id"]))
    return documents, families


# ---------------------------------------------------------------------------
# The pipeline, and the ground truth.


def run_pipeline(
    documents: list[dict], config: DedupConfig, running_mode: str
) -> tuple[list[dict], list[tuple[str, str]]]:
    """(duplicates/ records, linked pairs) of Deduplicate over `documents`, written as one part file
    (transforms/parts.py), as prepare's per-document stage writes them."""
    with tempfile.TemporaryDirectory() as work:
        table_path = f"{work}/docs.parquet"
        pq.write_table(pa.Table.from_pylist(documents), table_path)
        with beam.Pipeline(
            options=PipelineOptions(
                [f"--direct_running_mode={running_mode}", f"--direct_num_workers={os.cpu_count() or 1}"]
            )
        ) as p:
            result = (
                p
                | "Part file" >> beam.Create([PartFile((), table_path, 0)])
                | "Deduplicate" >> Deduplicate(config, work, edge_ids=True)
            )
            _ = (
                result.edges
                | "All edges" >> beam.combiners.ToList()
                | "Write edges" >> beam.Map(lambda edges: Path(f"{work}/edges.json").write_text(json.dumps(edges)))
            )
        records = [
            json.loads(line)
            for path in sorted(glob.glob(f"{work}/duplicates/*.jsonl"))
            for line in open(path, encoding="utf-8")
        ]
        edges = [tuple(edge) for edge in json.loads(Path(f"{work}/edges.json").read_text())]
        return records, edges


def components_of(records: list[dict]) -> dict[str, set[str]]:
    """kept id -> every document of its component (kept included)."""
    members: dict[str, set[str]] = defaultdict(set)
    for record in records:
        members[record["kept_id"]] |= {record["kept_id"], record["removed_id"]}
    return members


def lsh_candidate_pairs(signatures: dict[str, MinHash], threshold: float) -> set[tuple[str, str]]:
    lsh = MinHashLSH(threshold=threshold, num_perm=next(iter(signatures.values())).num_perm)
    for doc_id, signature in signatures.items():
        lsh.insert(doc_id, signature)
    return {
        tuple(sorted((doc_id, other)))
        for doc_id, signature in signatures.items()
        for other in lsh.query(signature)
        if other != doc_id
    }


def evaluate(
    documents: list[dict],
    families: list[tuple[str, str]],
    records: list[dict],
    edges: list[tuple[str, str]],
    config: DedupConfig,
) -> dict:
    normalizer = Normalizer(config)
    words = {row["id"]: normalizer.words(row["text"]) for row in documents}
    sets = {doc_id: shingle_set(w, config.ngram, bits=64) for doc_id, w in words.items()}
    wide = {}
    for doc_id, w in words.items():  # datasketch's own LSH as an independent candidate source
        wide[doc_id] = MinHash(num_perm=256, seed=7, hashfunc=int)
        wide[doc_id].update_batch(shingle_hashes(w, config.ngram).tolist())
    members = components_of(records)
    predicted = {tuple(sorted(pair)) for ids in members.values() for pair in itertools.combinations(sorted(ids), 2)}
    linked = {tuple(sorted(edge)) for edge in edges}
    candidates = predicted | linked | {tuple(sorted(pair)) for pair in families} | lsh_candidate_pairs(wide, 0.5)
    truth = {pair: exact_jaccard(sets[pair[0]], sets[pair[1]]) for pair in candidates}

    t = config.threshold
    positives = {pair for pair, j in truth.items() if j >= t}
    true_positives = positives & predicted
    removal_ok = [exact_jaccard(sets[r["removed_id"]], sets[r["kept_id"]]) >= t for r in records]
    bins = {}
    for low in np.arange(0.5, 1.0, 0.05):
        in_bin = [pair for pair, j in truth.items() if low <= j < low + 0.05 or (low >= 0.95 and j == 1.0)]
        if in_bin:
            bins[f"{low:.2f}-{low + 0.05:.2f}"] = (len(in_bin), sum(p in predicted for p in in_bin) / len(in_bin))

    # Estimator accuracy on the family pairs: ours vs plain datasketch (per-document update_batch).
    ours = MinHasher(config.num_perm, config.seed)
    errors_ours, errors_datasketch = [], []
    for a, b in families:
        j = truth[tuple(sorted((a, b)))]
        sig_a, sig_b = (ours.signature(shingle_hashes(words[x], config.ngram)) for x in (a, b))
        errors_ours.append(abs(estimate_jaccard(sig_a, sig_b) - j))
        plain = []
        for x in (a, b):
            m = MinHash(num_perm=config.num_perm, seed=config.seed)
            m.update_batch(_shingle_strings(words[x], config.ngram))
            plain.append(m)
        errors_datasketch.append(abs(plain[0].jaccard(plain[1]) - j))
    return {
        "documents": len(documents),
        "copies": len(families),
        "candidate_pairs": len(truth),
        "positive_pairs": len(positives),
        "predicted_pairs": len(predicted),
        "linked_pairs": len(linked),
        "linked_pair_precision": len(linked & positives) / max(len(linked), 1),
        "recall": len(true_positives) / max(len(positives), 1),
        "component_pair_precision": len(true_positives) / max(len(predicted), 1),
        "removed": len(records),
        "removal_precision": sum(removal_ok) / max(len(removal_ok), 1),
        "components": len(members),
        "missed_pairs": sorted((truth[p], p) for p in positives - predicted)[-5:],
        "false_links": sorted((truth[p], p) for p in linked - positives)[:5],
        "recall_by_jaccard": bins,
        "mean_abs_error_ours": statistics.fmean(errors_ours),
        "mean_abs_error_datasketch": statistics.fmean(errors_datasketch),
    }


def _shingle_strings(words: list[bytes], ngram: int) -> list[bytes]:
    if len(words) < ngram:
        return [b" ".join(words)]
    return [b" ".join(words[i : i + ngram]) for i in range(len(words) - ngram + 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpora", type=Path, default=default_corpora())
    parser.add_argument("--copies", type=int, default=2, help="edited copies per document, at most")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threshold", type=float, default=DedupConfig().threshold)
    parser.add_argument("--verify", default=DedupConfig().verify)
    parser.add_argument("--false-negative-weight", type=float, default=DedupConfig().false_negative_weight)
    parser.add_argument("--num-perm", type=int, default=DedupConfig().num_perm)
    parser.add_argument("--runner-mode", default="in_memory", choices=["in_memory", "multi_processing"])
    args = parser.parse_args()
    config = DedupConfig(
        threshold=args.threshold,
        verify=args.verify,
        num_perm=args.num_perm,
        false_negative_weight=args.false_negative_weight,
    )

    started = time.perf_counter()
    originals = cleaned_documents(args.corpora.resolve())
    documents, families = evaluation_documents(originals, args.copies, args.seed)
    print(
        f"{len(originals)} cleaned documents, {len(documents)} with copies "
        f"({sum(len(d['text']) for d in documents) / 1e6:.1f} M chars); {time.perf_counter() - started:.0f} s"
    )
    started = time.perf_counter()
    records, edges = run_pipeline(documents, config, args.runner_mode)
    print(f"Deduplicate ({args.runner_mode}): {len(records)} removed in {time.perf_counter() - started:.0f} s")
    result = evaluate(documents, families, records, edges, config)
    from transforms.dedup.minhash import lsh_bands

    bands = (
        (config.bands, config.rows)
        if config.bands
        else lsh_bands(config.threshold, config.num_perm, config.false_negative_weight)
    )
    print(
        f"threshold {config.threshold}, verify {config.verify}, num_perm {config.num_perm}, "
        f"bands x rows {bands[0]} x {bands[1]}"
    )
    for key, value in result.items():
        if key == "recall_by_jaccard":
            print("recall by exact Jaccard (pairs, recall):")
            for name, (count, recall) in value.items():
                print(f"  {name}: {count:5d}  {recall:.3f}")
        elif isinstance(value, float):
            print(f"{key}: {value:.4f}")
        else:
            print(f"{key}: {value}")


if __name__ == "__main__":
    main()
