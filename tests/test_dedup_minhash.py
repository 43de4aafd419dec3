"""MinHash signatures: identical to datasketch's, accurate on real text; LSH banding and buckets."""

import random

import numpy as np
import pytest
from datasketch import MinHash, MinHashLSH

from transforms.dedup import minhash
from transforms.dedup.entries import (
    ENTRY,
    MIN_FILED_ARRAY_BYTES,
    SHARD_DOCUMENTS,
    EntriesFile,
    by_shard,
    entries_path,
    exact_copies,
    pack,
    read_packed,
    shard_bits,
    unpack_sorted,
)
from transforms.dedup.lsh import band_keys, bucket_stars
from transforms.dedup.minhash import (
    MinHasher,
    candidate_probability,
    estimate_jaccard,
    exact_jaccard,
    lsh_bands,
    shingle_hashes,
    shingle_set,
)
from transforms.dedup.normalize import Normalizer
from transforms.dedup.settings import DedupConfig


def _random_words(rng, count, vocabulary=2000):
    return [f"w{rng.randrange(vocabulary)}".encode() for _ in range(count)]


@pytest.mark.parametrize("num_perm, seed, count", [(128, 1, 500), (64, 42, 7), (256, 3, 1)])
def test_signature_equals_datasketch_update_batch(num_perm, seed, count):
    hashes = shingle_hashes(_random_words(random.Random(seed), count), 5)
    reference = MinHash(num_perm=num_perm, seed=seed, hashfunc=int)
    reference.update_batch(hashes.tolist())
    ours = MinHasher(num_perm, seed).signature(hashes)
    assert ours.dtype == np.uint32
    assert np.array_equal(ours, reference.hashvalues)


def test_signature_equals_datasketch_across_block_boundaries(monkeypatch):
    monkeypatch.setattr(minhash, "_BLOCK", 100)
    hashes = shingle_hashes(_random_words(random.Random(0), 1234), 5)
    reference = MinHash(num_perm=32, seed=9, hashfunc=int)
    reference.update_batch(hashes.tolist())
    assert np.array_equal(MinHasher(32, 9).signature(hashes), reference.hashvalues)


def test_signature_round_trips_through_datasketch_lean_minhash():
    rng = random.Random(5)
    a = _random_words(rng, 300)
    b = a[:200] + _random_words(rng, 100)
    hasher = MinHasher(128, 1)
    sig_a, sig_b = (hasher.signature(shingle_hashes(w, 5)) for w in (a, b))
    assert hasher.as_datasketch(sig_a).jaccard(hasher.as_datasketch(sig_b)) == estimate_jaccard(sig_a, sig_b)


def test_shingles_are_word_ngrams_in_order():
    words = [b"a", b"b", b"c", b"d", b"e", b"f"]
    hashes = shingle_hashes(words, 5)
    assert len(hashes) == 2
    assert shingle_hashes(words[:5], 5)[0] == hashes[0]
    assert shingle_hashes(words[1:], 5)[0] == hashes[1]
    assert shingle_hashes([b"b", b"a", b"c", b"d", b"e"], 5)[0] != hashes[0]  # order matters
    assert len(shingle_hashes(words[:3], 5)) == 1  # a short text is one shingle
    assert len(shingle_hashes([], 5)) == 0
    assert np.array_equal(shingle_hashes(words, 5), _fold(shingle_hashes(words, 5, bits=64)))


def _fold(hashes64):
    return ((hashes64 >> np.uint64(32)) ^ hashes64).astype(np.uint32)


def test_exact_jaccard_of_shingle_sets():
    a = shingle_set([b"x%d" % i for i in range(14)], 5)  # 10 shingles
    b = shingle_set([b"x%d" % i for i in range(5, 19)], 5)  # 10 shingles, 5 shared
    assert len(a) == len(b) == 10
    assert exact_jaccard(a, b) == pytest.approx(5 / 15)
    assert exact_jaccard(a, a) == 1.0


def test_estimates_track_exact_jaccard_on_edited_real_text(corpora):
    text = (corpora / "books" / "RU-ECE__ECE451-Parallel" / "data" / "books" / "pg1080.txt").read_text("utf-8-sig")
    words = Normalizer(DedupConfig()).words(text)
    rng = random.Random(1)
    hasher = MinHasher(128, 1)
    errors = []
    for rate in (0.0, 0.01, 0.02, 0.04, 0.08, 0.15):
        edited = [rng.choice(words) if rng.random() < rate else w for w in words]
        truth = exact_jaccard(shingle_set(words, 5), shingle_set(edited, 5))
        estimate = estimate_jaccard(
            hasher.signature(shingle_hashes(words, 5)), hasher.signature(shingle_hashes(edited, 5))
        )
        errors.append(abs(estimate - truth))
    # The standard error of a 128-permutation estimate is at most 0.044 (at J = 0.5).
    assert max(errors) < 0.12 and np.mean(errors) < 0.05


@pytest.mark.parametrize("threshold, num_perm, weight", [(0.8, 128, 0.5), (0.8, 128, 0.9), (0.5, 64, 0.7)])
def test_bands_are_datasketch_optimum(threshold, num_perm, weight):
    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm, weights=(1 - weight, weight))
    assert lsh_bands(threshold, num_perm, weight) == (lsh.b, lsh.r)


def test_weighting_misses_moves_the_s_curve_below_the_threshold():
    balanced = lsh_bands(0.8, 128, 0.5)
    recall_first = lsh_bands(0.8, 128, DedupConfig().false_negative_weight)
    assert candidate_probability(0.8, *recall_first) > candidate_probability(0.8, *balanced)
    assert candidate_probability(0.8, *recall_first) > 0.85
    assert candidate_probability(0.85, *recall_first) > 0.95


def test_band_keys_agree_exactly_where_bands_agree():
    signature = np.arange(40, dtype=np.uint32)
    other = signature.copy()
    other[13] += 1  # inside band 3 of 10 x 4
    keys, other_keys = band_keys(signature, 10, 4), band_keys(other, 10, 4)
    assert list(keys == other_keys) == [i != 3 for i in range(10)]


def _entries(members: list[tuple[int, int, int]]) -> list[bytes]:
    """(key, exact, rank) members, node = position, packed in two arrays as two workers would."""
    rows = np.array([(key, exact, rank, node) for node, (key, exact, rank) in enumerate(members)], dtype=np.uint64)
    entries = pack(rows[:, 0], rows[:, 1], rows[:, 2], rows[:, 3])
    return [entries[::2].tobytes(), entries[1::2].tobytes()]


def test_bucket_stars_link_each_bucket_to_its_smallest_name_whatever_the_order():
    # Bucket 7: nodes 0-3 (node 2 an exact copy of node 0, ranked after it); bucket 9: node 4 alone.
    members = [(7, 100, 5), (7, 101, 3), (7, 100, 6), (7, 102, 3), (9, 103, 1)]
    for seed in range(5):
        order = list(range(len(members)))
        random.Random(seed).shuffle(order)
        blobs = _entries(members)
        random.Random(seed).shuffle(blobs)
        stars = set(bucket_stars(unpack_sorted(blobs), skip_exact_copies=True))
        assert stars == {((3, 1), (3, 3)), ((3, 1), (5, 0))}  # the copy (6, 2) stays out
        with_copies = set(bucket_stars(unpack_sorted(blobs), skip_exact_copies=False))
        assert with_copies == stars | {((3, 1), (6, 2))}
    assert list(bucket_stars(unpack_sorted([]), skip_exact_copies=True)) == []


def test_exact_copies_point_to_the_smallest_name_of_their_text():
    members = [(1, 2, 9), (1, 2, 4), (1, 3, 4), (5, 2, 4), (1, 2, 4)]  # the key is (key, exact)
    assert set(exact_copies(unpack_sorted(_entries(members)))) == {((4, 1), (9, 0)), ((4, 1), (4, 4))}


def test_entries_travel_by_shard_and_come_back_whole():
    keys = np.array([0, 1 << 63, (1 << 63) + 5, 7, (1 << 64) - 1], dtype=np.uint64)
    entries = pack(keys, keys, keys, np.arange(5, dtype=np.uint64))
    shards = dict(by_shard(entries, bits=1))
    assert sorted(shards) == [0, 1]
    assert list(unpack_sorted(shards.values())["node"]) == [0, 3, 1, 2, 4]
    assert list(by_shard(entries, bits=0))[0][0] == 0
    assert shard_bits(1, SHARD_DOCUMENTS) == 0 and shard_bits(4 * SHARD_DOCUMENTS, SHARD_DOCUMENTS) == 2


def test_large_arrays_rest_in_files_and_only_their_references_travel(tmp_path):
    """Three parts pack their shards' arrays: the large ones are appended to a file of the part and
    travel as references, the small ones travel themselves (part 2 has no file). Whatever the
    order they arrive in, a shard reads back exactly the entries packed for it."""
    rng = np.random.default_rng(0)
    large = MIN_FILED_ARRAY_BYTES // ENTRY.itemsize
    sizes = [8 * large, 6 * large + 1, large // 4]
    keys = rng.integers(0, np.iinfo(np.uint64).max, sum(sizes), dtype=np.uint64)
    entries = pack(keys, keys, keys, np.arange(len(keys), dtype=np.uint64))
    by_shard_items: dict[int, list] = {}
    for part, of_part in enumerate(np.split(entries, np.cumsum(sizes)[:-1])):
        file = EntriesFile(str(tmp_path), part)
        for batch in np.array_split(of_part, 2):
            for shard, array in by_shard(batch, bits=1):
                by_shard_items.setdefault(shard, []).append(file.packed(array))
        file.close()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["part-00000.entries", "part-00001.entries"]
    assert entries_path(str(tmp_path), 1) == str(tmp_path / "part-00001.entries")
    items = [item for of_shard in by_shard_items.values() for item in of_shard]
    assert {type(item) for item in items} == {bytes, tuple}
    assert sum(length for _, _, length in (item for item in items if isinstance(item, tuple))) == sum(
        path.stat().st_size for path in tmp_path.iterdir()
    )
    for shard, of_shard in by_shard_items.items():
        back = unpack_sorted(read_packed(str(tmp_path), reversed(of_shard)))
        assert sorted(back["node"]) == list(np.flatnonzero((keys >> np.uint64(63)) == shard))
