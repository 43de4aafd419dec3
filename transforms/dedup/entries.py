"""Packed entries: how the duplicate graph's per-document records reach the worker that groups them.

A document's entries (one exact key, one key per LSH band) are 32 bytes each, and never travel
one per element, nor through a shuffle at all. The worker that fingerprints a part packs many
documents' entries into one array per shard, a shard being the top `bits` bits of the key, and
appends the arrays to the part's entries file (EntriesFile); only a reference to each array,
(part, offset, length), crosses the shuffle. The worker that receives a shard's references reads
its arrays back and sorts their entries: runs of equal keys are the groups (the texts of one
exact key, the members of one LSH bucket), and memory per worker is one shard's entries, which
`shard_bits` keeps near a fixed size whatever the corpus. Entries thus move file -> worker ->
file as text does: the DirectRunner, which holds every shuffle in its own process until the job
ends, holds a few bytes per array instead of the arrays (0.021 bytes per input byte before).

    key    uint64: the grouping key (exact: high half of the 128-bit exact key; LSH: the band's hash)
    exact  uint64: low half of the exact key (LSH: to leave exact copies out of a bucket)
    rank   uint64: the keep rule's rank (keep.py)
    node   uint64: the document's place in the input (keep.node_of)
"""

from __future__ import annotations

import math
from itertools import groupby
from typing import Iterable, Iterator

import numpy as np
from apache_beam.io.filesystems import CompressionTypes, FileSystems

from transforms.dedup.keep import Name
from transforms.writers import AtomicFile

ENTRY = np.dtype([("key", "<u8"), ("exact", "<u8"), ("rank", "<u8"), ("node", "<u8")])
# About this much text per shard: a shard of 21 KB documents holds 100 KB of entries per band, one
# of 100-byte documents 21 MB; a part file (prepare's input parts) is of the same order.
SHARD_TEXT_BYTES = 64 * 1024 * 1024
_MAX_SHARD_BITS = 20

# Where a packed array rests: (the index of the part that packed it, offset and length in bytes in
# that part's entries file).
EntriesRef = tuple[int, int, int]


def shard_bits(text_bytes: int) -> int:
    """How many top bits of a key name its shard, for `text_bytes` of text in all."""
    return min(_MAX_SHARD_BITS, max(0, math.ceil(math.log2(max(1, text_bytes) / SHARD_TEXT_BYTES))))


def pack(key: np.ndarray, exact: np.ndarray, rank: np.ndarray, node: np.ndarray) -> np.ndarray:
    entries = np.empty(len(key), dtype=ENTRY)
    entries["key"], entries["exact"], entries["rank"], entries["node"] = key, exact, rank, node
    return entries


def by_shard(entries: np.ndarray, bits: int) -> Iterator[tuple[int, bytes]]:
    """(shard, packed entries) for every shard that `entries` touch."""
    return packed_by(entries, entries["key"] >> np.uint64(64 - bits) if bits else np.zeros(len(entries), np.uint64))


def packed_by(entries: np.ndarray, groups: np.ndarray) -> Iterator[tuple[int, bytes]]:
    """(group, its entries packed, in their order) for every value of `groups`, one per entry."""
    if not len(entries):
        return
    order = np.argsort(groups, kind="stable")
    entries, groups = entries[order], groups[order]
    starts = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1]])
    for start, end in zip(starts, np.r_[starts[1:], len(entries)]):
        yield int(groups[start]), entries[start:end].tobytes()


def entries_path(directory: str, part: int) -> str:
    return FileSystems.join(directory, f"part-{part:05d}.entries")


class EntriesFile:
    """The packed arrays of one part, appended as they are packed. The file appears whole on close();
    a retried bundle writes the same bytes, so references stay valid."""

    def __init__(self, directory: str, part: int):
        self._part = part
        self._file = AtomicFile(entries_path(directory, part))

    def append(self, packed: bytes) -> EntriesRef:
        ref = (self._part, self._file.size, len(packed))
        self._file.write(packed)
        return ref

    def close(self) -> None:
        self._file.close()


def read_packed(directory: str, refs: Iterable[EntriesRef]) -> Iterator[bytes]:
    """The packed arrays that `refs` name, each entries file opened once."""
    for part, of_part in groupby(sorted(refs), key=lambda ref: ref[0]):
        with FileSystems.open(entries_path(directory, part), compression_type=CompressionTypes.UNCOMPRESSED) as handle:
            for _, offset, length in of_part:
                handle.seek(offset)
                yield handle.read(length)


def unpack_sorted(blobs: Iterable[bytes]) -> np.ndarray:
    """The entries of packed arrays, sorted by (key, exact, rank, node): the order does not depend
    on how they were packed or delivered."""
    arrays = [np.frombuffer(blob, dtype=ENTRY) for blob in blobs]
    entries = np.concatenate(arrays) if arrays else np.empty(0, dtype=ENTRY)
    return entries[np.lexsort((entries["node"], entries["rank"], entries["exact"], entries["key"]))]


def name(entry: np.void) -> Name:
    return int(entry["rank"]), int(entry["node"])


def run_firsts(same_as_previous: np.ndarray) -> np.ndarray:
    """For sorted entries, the index of the first entry of each one's run, given for each entry
    after the first whether it continues the previous one's run."""
    starts = np.r_[True, ~same_as_previous]
    return np.maximum.accumulate(np.where(starts, np.arange(len(starts)), 0))


def same_text(entries: np.ndarray) -> np.ndarray:
    """For each sorted entry after the first: same key and exact key as the previous one."""
    return (entries["key"][1:] == entries["key"][:-1]) & (entries["exact"][1:] == entries["exact"][:-1])


def exact_copies(entries: np.ndarray) -> Iterator[tuple[Name, Name]]:
    """(representative, copy) for every exact-key entry that is not the smallest name of its key:
    sorted entries keyed by the exact key (key: high half, exact: low half)."""
    if len(entries) < 2:
        return
    same = same_text(entries)
    firsts = run_firsts(same)
    for i in np.flatnonzero(same) + 1:
        yield name(entries[firsts[i]]), name(entries[i])
