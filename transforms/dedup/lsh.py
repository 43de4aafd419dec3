"""LSH banding: signatures to band keys, and the entries of one band's shard to candidate edges.

Two documents are candidates when all `rows` values of one of their `bands` bands agree. The
pipeline groups documents' band entries by (band, shard) (entries.py: packed arrays, so no worker
holds an index and no element per document crosses the shuffle); `bucket_stars` turns each run
of equal keys, a bucket, into candidate edges of the duplicate graph.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np
import xxhash

from transforms.dedup.entries import name, run_firsts, same_text
from transforms.dedup.keep import Name


def band_keys(signature: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """One key per band (uint64): the xxh3-64 of its `rows` values. The band's index is not in
    the key: the pipeline groups each band apart."""
    data = signature[: bands * rows].astype("<u4", copy=False).tobytes()
    width = 4 * rows
    return np.array(
        [xxhash.xxh3_64_intdigest(data[band * width : (band + 1) * width]) for band in range(bands)], dtype=np.uint64
    )


def bucket_stars(entries: np.ndarray, skip_exact_copies: bool) -> Iterator[tuple[Name, Name]]:
    """Candidate edges (centre, member) of the buckets in one band's sorted entries (entries.py).

    A bucket is a run of equal keys with two members or more; its centre is its smallest name,
    which the keep rule prefers, and every other member is linked to it (verification follows).
    With `skip_exact_copies`, of the members that share an exact key only the smallest stays:
    the exact step removes the others, and a thousand copies of one page make no edge at all.
    A bucket of a million distinct members costs one pass over its sorted entries.
    """
    if skip_exact_copies and len(entries) > 1:
        entries = entries[np.r_[True, ~same_text(entries)]]  # the first of a text is its smallest name
    if len(entries) < 2:
        return
    entries = entries[np.lexsort((entries["node"], entries["rank"], entries["key"]))]  # by name within a bucket
    same_key = entries["key"][1:] == entries["key"][:-1]
    firsts = run_firsts(same_key)
    for i in np.flatnonzero(same_key) + 1:
        yield name(entries[firsts[i]]), name(entries[i])
