"""LSH banding: signatures to bucket keys, and a bucket's members to verified edges.

Two documents are candidates when all `rows` values of one of their `bands` bands agree; the
pipeline groups documents by `band_keys` (a GroupByKey per key, so no worker ever holds an
index) and `bucket_edges` turns each bucket into edges of the duplicate graph.
"""

from __future__ import annotations

from typing import Callable, Generator, Iterable, Iterator, Sequence

import numpy as np
import xxhash


def band_keys(signature: np.ndarray, bands: int, rows: int) -> list[bytes]:
    """One bucket key per band: the band's index (2 bytes) and the xxh3-64 of its `rows` values (8 bytes)."""
    data = signature[: bands * rows].astype("<u4", copy=False).tobytes()
    width = 4 * rows
    return [
        band.to_bytes(2, "big") + xxhash.xxh3_64_digest(data[band * width : (band + 1) * width])
        for band in range(bands)
    ]


def bucket_edges(
    members: Iterable[Sequence], similar: Callable[[Sequence, Sequence], bool]
) -> Iterator[tuple[Sequence, Sequence]]:
    """Edges (centre, member), as the two members, of the members of one bucket that `similar` accepts.

    Each member is a sequence whose first item is its node name (a keep-rule rank, see keep.py);
    `members` must be iterable twice (Beam's grouped values are). The centre is the smallest
    member; members that are not similar to it are sorted and clustered the same way among
    themselves. Holding only those misfits, a bucket of a million copies of one page streams
    through in constant memory, and the edges do not depend on the order of `members`.
    """
    centre = min(members, key=_name, default=None)
    if centre is None:
        return
    misfits = yield from _edges_to(centre, members, similar)
    misfits.sort(key=_name)
    while misfits:  # stays sorted: _edges_to keeps the order of what it does not link
        misfits = yield from _edges_to(misfits[0], misfits[1:], similar)


def _edges_to(
    centre: Sequence, members: Iterable[Sequence], similar: Callable[[Sequence, Sequence], bool]
) -> Generator[tuple[Sequence, Sequence], None, list[Sequence]]:
    """Yields (centre, member) for each member `similar` to the centre; returns the others, in order."""
    misfits = []
    for member in members:
        if member[0] == centre[0]:
            continue
        if similar(centre, member):
            yield centre, member
        else:
            misfits.append(member)
    return misfits


def _name(member: Sequence) -> str:
    return member[0]
