"""Repeated record ids: which records of a file repeat an own id that an earlier record of it had.

Where records carry their own ids (read.id_field, or a datasets input's id column), a document's
id holds its record's id, so a file's ids must be unique: the first record with an id is read, and
every later one with the same id is the dead letter "duplicate_id" (readers.read_range). A large
file is read in ranges by several workers, and none of them sees all of its ids, so the repeats
are found before any range is read, by a keyed step that holds no text:

    each part's record ids (readers.record_ids) --> ID_ENTRY entries, packed by shard of their key
    entries --group by shard, sort by (key, position)--> every entry after the first of its key
        --> the repeated positions of each part, packed (what ProcessParts reads them with)

An entry is 36 bytes, whatever the record's size or its id's length:

    key, key_low  uint64: the 128-bit hash of (source, file, record id): a key names one id of one file
    part          uint64: InputPart.key() of the part that reads the record
    file          uint32: the index of the record's file (FileRange) in that part
    position      uint64: the record's line or row in its file, which orders a key's records

A worker holds one shard's entries (dedup/entries.shard_bits keeps shards near a fixed share of
the input) plus the records of one id, never a file's set of ids. Two different ids of one file
would be taken for one only if their 128-bit hashes were equal.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Iterable, Iterator

import numpy as np
import xxhash

from transforms.dedup.entries import packed_by

ID_ENTRY = np.dtype([("key", "<u8"), ("key_low", "<u8"), ("part", "<u8"), ("file", "<u4"), ("position", "<u8")])
_LOW_64 = (1 << 64) - 1


def id_entries(source: str, path: str, ids: Iterable[tuple[int, str]], part: int = 0, file: int = 0) -> np.ndarray:
    """The entries of (position, record id) pairs read from one file: `path` below the root of
    input `source`, the `file`-th file of the part with key `part`."""
    pairs = list(ids)
    entries = np.empty(len(pairs), dtype=ID_ENTRY)
    keys = [xxhash.xxh3_128_intdigest(f"{source}\0{path}\0{record_id}".encode()) for _, record_id in pairs]
    entries["key"] = [key >> 64 for key in keys]
    entries["key_low"] = [key & _LOW_64 for key in keys]
    entries["part"], entries["file"] = part, file
    entries["position"] = [position for position, _ in pairs]
    return entries


def repeats(entries: np.ndarray) -> np.ndarray:
    """The entries that repeat the key of an entry with a smaller position: every record of an
    id but its file's first. Sorted by (key, position); the input may come in any order."""
    ordered = entries[np.lexsort((entries["position"], entries["key_low"], entries["key"]))]
    same_key = (ordered["key"][1:] == ordered["key"][:-1]) & (ordered["key_low"][1:] == ordered["key_low"][:-1])
    return ordered[1:][same_key]


def repeats_by_part(entries: np.ndarray) -> Iterator[tuple[int, bytes]]:
    """(part key, its entries among `repeats(entries)`, packed) for every part that has some."""
    repeated = repeats(entries)
    return packed_by(repeated, repeated["part"])


def unpack(blobs: Iterable[bytes]) -> np.ndarray:
    """The entries of packed arrays, as one array (in no particular order)."""
    arrays = [np.frombuffer(blob, dtype=ID_ENTRY) for blob in blobs]
    return np.concatenate(arrays) if arrays else np.empty(0, dtype=ID_ENTRY)


def positions_by_file(entries: np.ndarray) -> dict[int, frozenset[int]]:
    """{file index in its part: the positions} of entries (of one part)."""
    positions: defaultdict[int, set[int]] = defaultdict(set)
    for file, position in zip(entries["file"].tolist(), entries["position"].tolist()):
        positions[file].add(position)
    return {file: frozenset(found) for file, found in positions.items()}
