"""MinHash signatures of word n-gram shingles: datasketch's MinHash, computed a whole document at a time.

    words --xxh3-64 of each word--> word hashes (M,)
          --polynomial over n consecutive words, folded to 32 bits--> shingle hashes (M-n+1,)
          --datasketch "affine32": fmix32(h), then a_k * h + b_k mod 2**32, min over shingles--> signature (P,)

The permutations (a_k, b_k) are datasketch's own for (num_perm, seed), and `signature` returns
exactly the hash values of `datasketch.MinHash(num_perm, seed, hashfunc=int)` after
`update_batch(shingle_hashes(words))` (tests/test_dedup_minhash.py checks it), so a signature
can become a datasketch `LeanMinHash` at any time (`as_datasketch`). What is ours is the speed:
per-document `MinHash.update_batch` calls a Python hash function on every shingle string;
here a shingle costs no Python call at all (one xxh3 call per word, the rest numpy), about
6x faster on real text (docs/benchmarks.md).

Shingle hashes are 32-bit, like datasketch's default sha1_hash32: a 500,000-word book gets
about 30 colliding shingle pairs out of 500,000, which moves its Jaccard by under 1e-4.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import xxhash

# datasketch is imported in the functions that use it, not here: the package imports scipy (for
# MinHashLSH), about 0.5 s of every dedup worker's start-up, and the workers only compute
# signatures, with a MinHasher built by the driver (its permutations travel with it, pickled).
if TYPE_CHECKING:
    from datasketch import LeanMinHash

# Odd 64-bit multiplier of the shingle polynomial (the golden-ratio constant of Fibonacci hashing).
_SHINGLE_BASE = np.uint64(0x9E3779B97F4A7C15)
_SHIFT_32 = np.uint64(32)
# Shingles per block of the (P, block) permutation array: 8 MB of uint32 at 128 permutations.
_BLOCK = 16_384
_EMPTY = np.uint32(0xFFFFFFFF)
# MurmurHash3's 32-bit finalizer, which datasketch's affine32 scheme applies to every input hash.
_FMIX_16, _FMIX_13 = np.uint32(16), np.uint32(13)
_FMIX_M1, _FMIX_M2 = np.uint32(0x85EBCA6B), np.uint32(0xC2B2AE35)


def shingle_hashes(words: list[bytes], ngram: int, bits: int = 32) -> np.ndarray:
    """Hashes of the word n-grams of `words`, in order: uint32 (bits=32) or uint64, len(words) - ngram + 1.

    A text of fewer than `ngram` words is one shingle (all its words); no words, no shingles.
    A shingle's 64-bit hash is sum(w_i * B**(n-1-i)) mod 2**64 over the xxh3-64 hashes w_i of its
    words (order-sensitive, and one Python call per word, not per shingle); the 32-bit hash xors
    its high and low halves.
    """
    if not words:
        return np.empty(0, dtype=np.uint32 if bits == 32 else np.uint64)
    word_hashes = np.fromiter(map(xxhash.xxh3_64_intdigest, words), dtype=np.uint64, count=len(words))
    n = min(ngram, len(words))
    count = len(words) - n + 1
    combined = word_hashes[:count].copy()
    for offset in range(1, n):
        combined *= _SHINGLE_BASE
        combined += word_hashes[offset : offset + count]
    if bits == 64:
        return combined
    return ((combined >> _SHIFT_32) ^ combined).astype(np.uint32)


def shingle_set(words: list[bytes], ngram: int, bits: int = 32) -> np.ndarray:
    """The set of shingle hashes, sorted, for exact Jaccard (see the module docstring on collisions)."""
    return np.unique(shingle_hashes(words, ngram, bits=bits))


def exact_jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Jaccard similarity of two sorted sets of shingle hashes (as from `shingle_set`)."""
    if not len(a) and not len(b):
        return 1.0
    common = len(np.intersect1d(a, b, assume_unique=True))
    return common / (len(a) + len(b) - common)


class MinHasher:
    """Signatures of shingle hashes under datasketch's permutations for (num_perm, seed)."""

    def __init__(self, num_perm: int, seed: int):
        from datasketch import MinHash

        self.num_perm = num_perm
        self.seed = seed
        a, b = MinHash(num_perm=num_perm, seed=seed, scheme="affine32").permutations
        self._a = np.asarray(a, dtype=np.uint32)[:, None]  # (P, 1)
        self._b = np.asarray(b, dtype=np.uint32)[:, None]

    def signature(self, hashes: np.ndarray) -> np.ndarray:
        """The MinHash of a set given as uint32 shingle hashes: uint32 (num_perm,); all 0xFFFFFFFF if empty."""
        mixed = _fmix32(hashes.astype(np.uint32))
        result = np.full(self.num_perm, _EMPTY, dtype=np.uint32)
        block = np.empty((self.num_perm, min(len(mixed), _BLOCK)), dtype=np.uint32)
        for start in range(0, len(mixed), _BLOCK):
            chunk = mixed[None, start : start + _BLOCK]  # (1, S)
            permuted = block[:, : chunk.shape[1]]  # (P, S)
            np.multiply(self._a, chunk, out=permuted)  # wraps: arithmetic mod 2**32
            permuted += self._b
            np.minimum(result, permuted.min(axis=1), out=result)
        return result

    def as_datasketch(self, signature: np.ndarray) -> LeanMinHash:
        """The same signature as a datasketch LeanMinHash (for its jaccard, union, LSH indexes)."""
        from datasketch import LeanMinHash

        return LeanMinHash(seed=self.seed, hashvalues=signature, scheme="affine32")


def _fmix32(h: np.ndarray) -> np.ndarray:
    """MurmurHash3 fmix32 of each value (a bijection on uint32; products wrap mod 2**32). Updates `h`."""
    h ^= h >> _FMIX_16
    h *= _FMIX_M1
    h ^= h >> _FMIX_13
    h *= _FMIX_M2
    h ^= h >> _FMIX_16
    return h


def estimate_jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Jaccard similarity estimated from two signatures: the fraction of equal positions."""
    return np.count_nonzero(a == b) / len(a)


def lsh_bands(threshold: float, num_perm: int, false_negative_weight: float) -> tuple[int, int]:
    """(bands, rows) minimising datasketch's weighted false-positive + false-negative probability mass."""
    from datasketch import MinHashLSH

    lsh = MinHashLSH(
        threshold=threshold, num_perm=num_perm, weights=(1.0 - false_negative_weight, false_negative_weight)
    )
    return lsh.b, lsh.r


def candidate_probability(jaccard: float, bands: int, rows: int) -> float:
    """Probability that two documents of this Jaccard similarity share at least one band."""
    return 1.0 - (1.0 - jaccard**rows) ** bands
