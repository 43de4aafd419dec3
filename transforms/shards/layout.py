"""Where each document goes: its split, its copies, its place in the shuffle, its shard.

Every decision is a pure function of the document id (and the seed), so it depends neither on
the runner, nor on the number of workers, nor on the order documents arrive in:

- split: by `hash_fraction(id)`, the same place in [0, 1) that train-tokenizer samples by; the
  top `validation_fraction` of that range is validation. The seed plays no part, so a document
  keeps its split when the corpus grows or the seed changes, and, where the tokenizer's
  held-out slice reaches that far, validation documents were not in its training sample either.
  Where that range holds no document of a corpus of two or more (0.01 of fewer than about 100
  documents), validation starts at the top document instead (`validation_from`), so that it is
  never empty: a count and a maximum over the ids, not a list of them, decide it.
- copies (train only): a source weight w gives each document floor(w) copies and one more with
  probability w - floor(w), drawn by a seeded hash: 2 doubles a source, 0.5 keeps half of it.
- shuffle key: a seeded 64-bit hash of (id, copy). A split of N shards puts a row in shard
  key mod N and sorts each shard by key, so shards and rows within them are in random order.
"""

from __future__ import annotations

import math

import xxhash

from transforms.sampling import hash_fraction

SPLITS = ("train", "validation")


def validation_from(validation_fraction: float, documents: int, top_fraction: float) -> float:
    """The place in [0, 1) from which documents go to validation: 1 - validation_fraction, or the
    top document's own place (top_fraction, the highest hash fraction of the `documents` ids)
    where no document reaches that, there are two or more, and validation_fraction > 0."""
    cutoff = 1.0 - validation_fraction
    if validation_fraction > 0 and documents >= 2 and top_fraction < cutoff:
        return top_fraction
    return cutoff


def split_of(doc_id: str, validation_from: float) -> str:
    """The split of a document, given the place from which validation starts (`validation_from`)."""
    return "validation" if hash_fraction(doc_id) >= validation_from else "train"


def seeded_fraction(doc_id: str, purpose: str, seed: int) -> float:
    """A uniform place in [0, 1) of the document for `purpose`, independent of other purposes."""
    return xxhash.xxh64_intdigest(f"{purpose}\0{doc_id}".encode("utf-8"), seed=seed) / 2.0**64


def copies_of(doc_id: str, weight: float, seed: int) -> int:
    whole = math.floor(weight)
    return whole + (1 if seeded_fraction(doc_id, "copies", seed) < weight - whole else 0)


def shuffle_key(doc_id: str, copy: int, seed: int) -> int:
    return xxhash.xxh64_intdigest(f"{doc_id}\0{copy}".encode("utf-8"), seed=seed)


def shard_count(rows: int, tokens: int, target_tokens: int, min_tokens: int = 1) -> int:
    """Shards of a split: its tokens over the target, at least 1 where it has rows, at most one
    per row, and at most one per `min_tokens` (a packed window) so no shard is expected empty."""
    if rows == 0:
        return 0
    return max(1, min(math.ceil(tokens / target_tokens), rows, tokens // min_tokens))


def shard_name(index: int, count: int) -> str:
    return f"shard-{index:05d}-of-{count:05d}.arrow"
