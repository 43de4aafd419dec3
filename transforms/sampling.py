"""Sampling by hash of document id, shared by the tokenizer's sample and the shards' splits and weights."""

from __future__ import annotations

from dataclasses import dataclass

import xxhash

from transforms.settings import setting

# Seeded apart from the docs shard hash (transforms/writers.shard_of), so the two are independent.
HASH_SEED = 0x7E5A


def hash_fraction(doc_id: str) -> float:
    """The document's place in [0, 1): uniform, and the same on every worker and run."""
    return xxhash.xxh64_intdigest(doc_id.encode("utf-8"), seed=HASH_SEED) / 2.0**64


@dataclass
class SourceWeight:
    source: str = setting("Source name, as in prepare's --input NAME=GLOB.")
    weight: float = setting("Multiplies the source's share of the sample; 0 leaves it out.", default=1.0)


def source_weight_problems(where: str, weights: list[SourceWeight]) -> list[str]:
    problems, seen = [], set()
    for i, item in enumerate(weights):
        if not item.source or any(c in item.source for c in ":/= ") or item.source in seen:
            problems.append(
                f"{where}[{i}].source: {item.source!r} must be a source name (non-empty, "
                "no ':', '/', '=' or spaces), listed once"
            )
        if not 0 <= item.weight < float("inf"):
            problems.append(f"{where}[{i}].weight: {item.weight!r} must be >= 0")
        seen.add(item.source)
    return problems
