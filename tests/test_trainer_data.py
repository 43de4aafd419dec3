"""The trainer's data path: manifest checks, memory-mapped windows, the stateless sampler,
document boundaries.

The shard sets are conftest's `alice_shards` and `alice_packed_shards`: real shards made once per
test session by the real pipeline (a byte-level BPE trained by tokenizer_training.bpe on a bundled
book, its paragraphs written as prepare's docs/*.parquet, then `run_tokenize` on the Beam
DirectRunner).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pyarrow as pa
import pytest

from tests.helpers import PACKED_SEQ_LEN, REPO_ROOT

torch = pytest.importorskip("torch")

from trainer.data import (  # noqa: E402 (torch checked first)
    ShardError,
    TokenStream,
    WindowSampler,
    check_tokenizer,
    read_manifest,
    validation_starts,
    verify_shards,
)
from trainer.train import document_inputs  # noqa: E402


def all_tokens(manifest, split: str) -> np.ndarray:
    """The split's tokens read plainly with pyarrow, for comparison."""
    out = []
    for shard in manifest.splits[split].shards:
        with pa.ipc.open_stream(pa.OSFile(str(shard.path))) as reader:
            out.append(reader.read_all().column("input_ids").combine_chunks().flatten().to_numpy())
    return np.concatenate(out).astype(np.int64)


def test_windows_equal_the_split_read_plainly_across_batch_and_shard_boundaries(alice_shards):
    manifest = read_manifest(alice_shards)
    stream = TokenStream(manifest.splits["train"])
    expected = all_tokens(manifest, "train")
    assert stream.n_tokens == len(expected) == manifest.splits["train"].tokens
    assert len(stream.chunks) > 4  # several record batches in several shards
    boundaries = stream.chunk_starts[1:-1]
    starts = np.concatenate([boundaries - 3, [0, len(expected) - 65], np.arange(0, len(expected) - 65, 997)])
    windows = stream.windows(starts, 65)
    for start, window in zip(starts, windows):
        assert np.array_equal(window, expected[start : start + 65])


def test_sampler_is_a_pure_function_of_seed_and_step(alice_shards):
    stream = TokenStream(read_manifest(alice_shards).splits["train"])
    sampler = WindowSampler(stream, 17, seed=5)
    assert np.array_equal(sampler.step_starts(3, 8), WindowSampler(stream, 17, seed=5).step_starts(3, 8))
    assert not np.array_equal(sampler.step_starts(3, 8), sampler.step_starts(4, 8))
    assert not np.array_equal(sampler.step_starts(3, 8), WindowSampler(stream, 17, seed=6).step_starts(3, 8))
    assert sampler.step_starts(3, 1000).max() <= stream.n_tokens - 17


def test_validation_windows_are_fixed_spread_and_inside_the_split(alice_shards):
    stream = TokenStream(read_manifest(alice_shards).splits["validation"])
    starts = validation_starts(stream, 33, 50)
    assert np.array_equal(starts, validation_starts(stream, 33, 50))
    assert starts[0] == 0 and starts[-1] == stream.n_tokens - 33
    assert np.all(np.diff(starts) >= 33)  # the split is long enough for disjoint windows


def test_a_tampered_shard_does_not_verify(alice_shards, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(alice_shards, copy)
    manifest = read_manifest(copy)
    verify_shards(manifest)
    shard = manifest.splits["train"].shards[1].path
    data = bytearray(shard.read_bytes())
    data[-100] ^= 1  # same size, other bytes
    shard.write_bytes(bytes(data))
    verify_shards(manifest, "size")  # sizes alone do not see it
    with pytest.raises(ShardError, match=r"do not verify(.|\n)*train/shard-00001-of-00005.arrow: sha256"):
        verify_shards(manifest)
    shard.unlink()
    with pytest.raises(ShardError, match="shard-00001-of-00005.arrow: missing"):
        verify_shards(manifest, "size")


def test_shards_of_another_tokenizer_are_refused(alice_shards):
    manifest = read_manifest(alice_shards)
    check_tokenizer(manifest, manifest.tokenizer_sha256)
    with pytest.raises(ShardError, match="made with tokenizer sha256"):
        check_tokenizer(manifest, "ab" * 32)


def test_not_a_shard_directory_says_so(tmp_path):
    with pytest.raises(ShardError, match="no manifest"):
        read_manifest(tmp_path)


def test_packed_rows_are_the_windows_and_document_starts_follow_end_of_text(alice_packed_shards):
    manifest = read_manifest(alice_packed_shards)
    assert manifest.packed_seq_len == PACKED_SEQ_LEN
    stream = TokenStream(manifest.splits["train"], manifest.packed_seq_len)
    tables = [pa.ipc.open_stream(pa.OSFile(str(s.path))).read_all() for s in manifest.splits["train"].shards]
    rows = np.concatenate([np.stack(t.column("input_ids").to_numpy(zero_copy_only=False)) for t in tables if len(t)])
    doc_starts = [starts for t in tables for starts in t.column("doc_starts").to_pylist()]
    sampler = WindowSampler(stream, PACKED_SEQ_LEN + 1, seed=1)
    starts = sampler.step_starts(1, 6)
    assert set((starts % (PACKED_SEQ_LEN + 1)).tolist()) == {0}
    assert np.array_equal(stream.windows(starts, PACKED_SEQ_LEN + 1), rows[starts // (PACKED_SEQ_LEN + 1)])

    # The shards' doc_starts are where document_inputs restarts positions, over the model's
    # input (a row's first seq_len tokens); position 0 restarts anyway.
    positions, _ = document_inputs(torch.from_numpy(rows[:, :-1].astype(np.int64)), manifest.eos_id, "positions")
    for row_positions, starts_of_row in zip(positions.tolist(), doc_starts):
        assert [i for i, p in enumerate(row_positions) if p == 0 and i] == [
            s for s in starts_of_row if 0 < s < PACKED_SEQ_LEN
        ]


def test_document_inputs_restart_positions_and_confine_attention():
    x = torch.tensor([[5, 6, 0, 7, 8, 0, 9]])
    positions, mask = document_inputs(x, eos_id=0, mode="both")
    assert positions.tolist() == [[0, 1, 2, 0, 1, 2, 0]]
    # token 4 (8) sees 3 and 4 (its document), not 0..2 (the one before) nor 5.. (the future)
    assert mask[0, 0, 4].tolist() == [False, False, False, True, True, False, False]
    assert document_inputs(x, 0, "none") == (None, None)
    assert document_inputs(x, 0, "positions")[1] is None
    assert document_inputs(x, 0, "mask")[0] is None


RSS_PROBE = """
import sys, numpy as np
from trainer.data import read_manifest, TokenStream, WindowSampler, validation_starts
def rss():  # anonymous memory only: mapped file pages are page cache, not our heap
    return int(next(l for l in open('/proc/self/status') if l.startswith('RssAnon')).split()[1]) * 1024
before = rss()
m = read_manifest(sys.argv[1])
stream = TokenStream(m.splits['train'])
sampler = WindowSampler(stream, 65, seed=0)
for step in range(200):
    stream.windows(sampler.step_starts(step, 12), 65)
print(rss() - before, stream.n_tokens)
"""


@pytest.mark.slow  # two Python processes
def test_resident_memory_does_not_grow_with_the_shard_set(alice_shards, tmp_path):
    def probe(root):
        out = subprocess.run(
            [sys.executable, "-c", RSS_PROBE, str(root)], capture_output=True, text=True, cwd=REPO_ROOT, check=True
        ).stdout.split()
        return int(out[0]), int(out[1])

    # A 40 times larger set: the same shard files, each listed 40 times under another name.
    big = tmp_path / "big"
    big.mkdir()
    manifest = json.loads((alice_shards / "manifest.json").read_text())
    train = manifest["splits"]["train"]
    copies = []
    for k in range(40):
        for entry in train["shards"]:
            name = f"train/copy{k}-{entry['path'].split('/')[-1]}"
            (big / name).parent.mkdir(exist_ok=True)
            shutil.copyfile(alice_shards / entry["path"], big / name)
            copies.append({**entry, "path": name})
    train.update(shards=copies, tokens=40 * train["tokens"], tokens_dropped=0, text_bytes=40 * train["text_bytes"])
    (big / "manifest.json").write_text(json.dumps(manifest))

    small_rss, small_tokens = probe(alice_shards)
    big_rss, big_tokens = probe(big)
    assert big_tokens == 40 * small_tokens
    big_bytes = big_tokens * 2
    # Reading the big set copies none of it into the process's own memory.
    assert big_rss - small_rss < 0.1 * big_bytes, (small_rss, big_rss, big_bytes)
