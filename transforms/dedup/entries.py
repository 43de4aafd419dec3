"""Packed entries: how the duplicate graph's per-document records reach the worker that groups them.

A document's entries (one exact key, one key per LSH band) are 32 bytes each, and never travel
one per element. The worker that fingerprints a part packs many documents' entries into one array
per shard, a shard being the top `bits` bits of the key, and appends the arrays to the part's
entries file (EntriesFile): only a reference to each array, (part, offset, length), crosses the
shuffle (an array under MIN_FILED_ARRAY_BYTES crosses it itself). The worker that receives a
shard's references reads its arrays back and sorts their entries: runs of equal keys are the
groups (the texts of one exact key, the members of one LSH bucket), and memory per worker is one
shard's entries, which `shard_bits` keeps near SHARD_DOCUMENTS whatever the corpus. Entries thus
move file -> worker -> file as text does: the DirectRunner, which holds every shuffle in its own
process until the job ends, holds a few bytes per array instead of the arrays (0.021 bytes per
input byte).

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
# Dedup's groups (a band's shard, an exact shard) hold at most this many documents' entries (16 MB),
# and half as many or more once there are several. A part's array for one shard holds about
# 1/(number of parts) of its group.
SHARD_DOCUMENTS = 1 << 19
# The repeated-ids step (repeated_ids.py) sizes its shards by input bytes: a shard of records of
# 21 KB holds 110 KB of entries, one of 100-byte records 24 MB.
SHARD_TEXT_BYTES = 64 * 1024 * 1024
_MAX_SHARD_BITS = 20
# A smaller array travels inline, through the runner's shuffle; a larger one rests in its part's
# entries file and only its reference travels. Reading it back costs a request (tens of ms on
# GCS), which only a few KB outweigh. At 4 KB an array holds 128 entries: the arrays of a corpus cut
# into up to 2,048 parts are filed (4,096 at best), about 128 GB of input (docs/memory.md).
MIN_FILED_ARRAY_BYTES = 4096

# Where a packed array rests: (the index of the part that packed it, offset and length in bytes in
# that part's entries file).
EntriesRef = tuple[int, int, int]
# What travels for one packed array: the array itself, or where it rests.
Packed = bytes | EntriesRef


def shard_bits(count: int, per_shard: int) -> int:
    """How many top bits of a key name its shard, for `count` items (bytes, documents) in all and
    about `per_shard` of them per shard."""
    return min(_MAX_SHARD_BITS, max(0, math.ceil(math.log2(max(1, count) / per_shard))))


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
    """The large packed arrays of one part, appended as they are packed; small ones are not filed.
    The file appears whole on close(), if anything was filed; a retried bundle writes the same
    bytes, so references stay valid."""

    def __init__(self, directory: str, part: int):
        self._path = entries_path(directory, part)
        self._part = part
        self._file: AtomicFile | None = None

    def packed(self, array: bytes) -> Packed:
        """What travels for `array`: itself if it is small, else its reference, once it is filed."""
        if len(array) < MIN_FILED_ARRAY_BYTES:
            return array
        if self._file is None:
            self._file = AtomicFile(self._path)
        ref = (self._part, self._file.size, len(array))
        self._file.write(array)
        return ref

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


def read_packed(directory: str, items: Iterable[Packed]) -> Iterator[bytes]:
    """The packed arrays that `items` carry or name, each entries file opened once."""
    refs: list[EntriesRef] = []
    for item in items:
        if isinstance(item, bytes):
            yield item
        else:
            refs.append(item)
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
