"""Matching benchmark items in documents: words, their hashes, the index, and the verdict on a document.

    text --normalised words (NFKC, case folded, \\w+ runs), with their offsets--> Words
    Words --hash of every run of k words, for each k the index needs--> 64-bit keys
    keys --sorted-array lookup in an Index (keys, item refs)--> Match(start word, k, item)
    matches --drop, or cut each run out with 200 characters either side--> Verdict

An item of at least `ngram` words is indexed by every run of `ngram` of its words; a shorter one
by the run of all its words, so that it is found only whole. A document matches an item where one
of its runs has the item's key: line breaks, case, punctuation and spacing never matter, since
none of them makes or changes a word.

Keys are stable across processes and machines (xxh3 of each word, then a polynomial of the word
hashes mod 2**64, mixed with splitmix64's finaliser and the run's length): never Python's salted
hash. Two different runs share a key with a probability of about 2**-64 per pair; a document of
10,000 words checked against an index of 100 million keys has about a 1 in 10**7 chance of one
false key anywhere.
"""

from __future__ import annotations

import re
import unicodedata
from typing import NamedTuple

import numpy as np
import xxhash

WORD = re.compile(r"\w+")
NON_SPACE = re.compile(r"\S+")
REDACT_MARGIN_CHARS = 200  # cut on either side of a matching run
MAX_CUTS = 10  # a document that needs more cuts than this is dropped instead
MAX_REPORTED_NGRAMS = 20  # matched runs listed per document in contaminated/*.jsonl

_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)  # odd: a polynomial of the word hashes, mod 2**64
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_LENGTH_SALT = 0xD6E8FEB86659FD93  # keys of runs of different lengths differ


class Words(NamedTuple):
    """A text's normalised words, and where each sits in the text (character offsets)."""

    words: list[str]
    starts: list[int]
    ends: list[int]


def words_of(text: str) -> list[str]:
    """The words of `text` after NFKC and case folding: runs of \\w characters. What every
    document is matched by; `normalised_words` gives the same words with their offsets, for the
    documents that match."""
    if text.isascii():  # NFKC changes no ASCII, and lower() is casefold() there
        return WORD.findall(text.lower())
    return WORD.findall(unicodedata.normalize("NFKC", text).casefold())


def normalised_words(text: str) -> Words:
    """`words_of(text)`, and where each word sits in `text`.

    Each word's offsets are those of the run of non-space characters that holds it (exactly the
    word's own where the text is ASCII): NFKC and case folding can change lengths (ﬁ -> fi,
    ß -> ss), so the original offsets are kept instead of computed on the normalised text.
    """
    words: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    if text.isascii():  # NFKC changes no ASCII, and lower() is casefold() there: offsets are exact
        for match in WORD.finditer(text.lower()):
            words.append(match.group())
            starts.append(match.start())
            ends.append(match.end())
        return Words(words, starts, ends)
    for chunk in NON_SPACE.finditer(text):
        for word in WORD.findall(unicodedata.normalize("NFKC", chunk.group()).casefold()):
            words.append(word)
            starts.append(chunk.start())
            ends.append(chunk.end())
    return Words(words, starts, ends)


def word_hashes(words: list[str]) -> np.ndarray:
    """xxh3-64 of each word's UTF-8 bytes."""
    return np.fromiter(
        (xxhash.xxh3_64_intdigest(word.encode("utf-8")) for word in words), dtype=np.uint64, count=len(words)
    )


def run_keys(hashes: np.ndarray, lengths: tuple[int, ...]) -> dict[int, np.ndarray]:
    """{k: the key of every run of k consecutive words, by its first word} for each k in `lengths`
    (none for a k longer than the text)."""
    keys: dict[int, np.ndarray] = {}
    polynomial = hashes.copy()  # of the runs of 1 word
    for k in range(1, max(lengths, default=0) + 1):
        if k > len(hashes):
            break
        if k > 1:
            polynomial = polynomial[:-1] * _MULTIPLIER + hashes[k - 1 :]  # wraps mod 2**64, as meant
        if k in lengths:
            keys[k] = _mix(polynomial ^ np.uint64(k * _LENGTH_SALT % 2**64))
    return keys


def _mix(z: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: every bit of the polynomial reaches every bit of the key."""
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    return z ^ (z >> np.uint64(31))


def item_keys(words: list[str], ngram: int) -> np.ndarray:
    """The keys an item is indexed by: its runs of `ngram` words, or its whole run where it is
    shorter (distinct, sorted)."""
    k = min(len(words), ngram)
    return np.unique(run_keys(word_hashes(words), (k,))[k])


class Index(NamedTuple):
    """Index keys, sorted, and beside each the item it belongs to (a key can repeat: items share
    runs); and a bit filter of the keys' top bits, which rules out most keys of a document at one
    memory access each before the binary search (8 to 16 bits per key: 1 to 2 bytes an entry;
    about 1 key in 9 of a clean document gets through to the search)."""

    keys: np.ndarray  # uint64
    items: np.ndarray  # uint64 item references (transforms/decontaminate/items.py: file << 32 | row)
    filter_bits: np.ndarray  # uint8: bit (key >> filter_shift) is set for every key
    filter_shift: np.uint64

    @staticmethod
    def empty() -> Index:
        return Index.of_entries(np.zeros((0, 2), np.uint64))

    @staticmethod
    def of_entries(entries: np.ndarray) -> Index:
        """From an (n, 2) array of (key, item) rows sorted by key."""
        return Index.of_columns(np.ascontiguousarray(entries[:, 0]), np.ascontiguousarray(entries[:, 1]))

    @staticmethod
    def of_columns(keys: np.ndarray, items: np.ndarray) -> Index:
        """From the keys, sorted, and the item beside each."""
        width = max(16, int(len(keys) * 8 - 1).bit_length())  # at least 8 bits per key
        shift = np.uint64(64 - width)
        places = keys >> shift  # sorted, as the keys are
        filter_bits = np.zeros(1 << (width - 3), dtype=np.uint8)
        if len(keys):
            bytes_at = places >> np.uint64(3)
            starts = np.flatnonzero(np.r_[True, bytes_at[1:] != bytes_at[:-1]])
            bits = np.left_shift(np.uint8(1), (places & np.uint64(7)).astype(np.uint8))
            filter_bits[bytes_at[starts].astype(np.int64)] = np.bitwise_or.reduceat(bits, starts)
        return Index(keys, items, filter_bits, shift)

    def held(self, keys: np.ndarray) -> np.ndarray:
        """The positions in `keys` of those the index holds."""
        places = keys >> self.filter_shift
        bit = self.filter_bits[(places >> np.uint64(3)).astype(np.int64)] >> (places & np.uint64(7)).astype(np.uint8)
        candidates = np.flatnonzero(bit & 1)
        at = np.minimum(np.searchsorted(self.keys, keys[candidates]), len(self.keys) - 1)
        return candidates[self.keys[at] == keys[candidates]]


class Match(NamedTuple):
    start: int  # the first word of the matching run
    length: int  # its words
    item: int  # the item's reference


def find_matches(hashes: np.ndarray, index: Index, lengths: tuple[int, ...]) -> list[Match]:
    """Every (run, item) of a document whose run's key the index holds, for runs of `lengths` words."""
    found: list[Match] = []
    if not len(index.keys):
        return found
    for k, keys in run_keys(hashes, lengths).items():
        starts = index.held(keys)
        first = np.searchsorted(index.keys, keys[starts], side="left")
        last = np.searchsorted(index.keys, keys[starts], side="right")
        for start, begin, end in zip(starts.tolist(), first.tolist(), last.tolist()):
            found += [Match(start, k, int(item)) for item in index.items[begin:end].tolist()]
    return found


class Verdict(NamedTuple):
    action: str  # "drop" or "redact"
    text: str  # the redacted text ("" where dropped)
    words_removed: int


def verdict(text: str, words: Words, matches: list[Match], mode: str) -> Verdict:
    """What happens to a document with `matches`: dropped (mode drop, or redaction would take more
    than MAX_CUTS cuts, or leave no word), or each matching run cut out with REDACT_MARGIN_CHARS
    on either side, widened to whitespace so that no word is cut in two, overlapping cuts merged."""
    if mode == "redact":
        cuts = merged_cuts(text, [(words.starts[m.start], words.ends[m.start + m.length - 1]) for m in matches])
        if len(cuts) <= MAX_CUTS:
            kept = "".join(text[begin:end] for begin, end in _between(cuts, len(text)))
            removed = sum(any(begin <= start < end for begin, end in cuts) for start in words.starts)
            if removed < len(words.words):
                return Verdict("redact", kept, removed)
    return Verdict("drop", "", len(words.words))


def merged_cuts(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The [begin, end) character ranges to cut for matching `spans`: each widened by the margin,
    then to the nearest whitespace outward, overlapping or touching ones merged, in order."""
    cuts: list[tuple[int, int]] = []
    for begin, end in sorted(spans):
        begin, end = max(begin - REDACT_MARGIN_CHARS, 0), min(end + REDACT_MARGIN_CHARS, len(text))
        while begin > 0 and not text[begin - 1].isspace():
            begin -= 1
        while end < len(text) and not text[end].isspace():
            end += 1
        if cuts and begin <= cuts[-1][1]:
            cuts[-1] = (cuts[-1][0], max(cuts[-1][1], end))
        else:
            cuts.append((begin, end))
    return cuts


def _between(cuts: list[tuple[int, int]], length: int) -> list[tuple[int, int]]:
    """The ranges of [0, length) outside the cuts."""
    edges = [0, *(edge for cut in cuts for edge in cut), length]
    return [(edges[i], edges[i + 1]) for i in range(0, len(edges), 2)]


def reported_ngrams(words: Words, matches: list[Match]) -> list[str]:
    """The matched runs as normalised text, distinct, in document order, at most MAX_REPORTED_NGRAMS."""
    runs: list[str] = []
    for match in sorted(matches):
        run = " ".join(words.words[match.start : match.start + match.length])
        if run not in runs:
            runs.append(run)
            if len(runs) == MAX_REPORTED_NGRAMS:
                break
    return runs
