"""Exports of a split's shards for other trainers, rows in shard order.

- Megatron-LM's indexed dataset (megatron/core/datasets/indexed_dataset.py):
  `megatron/{split}.bin` holds the tokens; `megatron/{split}.idx` is the 9-byte header
  b"MMIDIDX\\x00\\x00", version 1 (<Q), the dtype code (<B: 8 uint16, 4 int32), the sequence
  count (<Q), the document-index count (<Q), then the sequence lengths (int32), the byte offsets
  of the sequences (int64) and the document indices (int64: 0, then the sequence count after
  each document). One sequence and one document per shard row; the dtype follows Megatron's
  `DType.optimal_dtype`: uint16 for a vocabulary below 65,500 tokens, else int32. Point
  Megatron's --data-path at DIR/megatron/train.
- nanoGPT (data/*/prepare.py): `nanogpt/train.bin` and `nanogpt/val.bin`, every token of the
  split as flat uint16, which `np.memmap(..., dtype=np.uint16)` reads; only for vocabularies that
  fit in 16 bits (tokenize refuses others). Beside them `meta.pkl`, whose `vocab_size` nanoGPT's
  train.py reads (without it, it assumes GPT-2's 50,304), and the tokenizer's files, so that the
  directory copied to nanoGPT's data/NAME/ decodes on its own (docs/shards.md says how).

The rows already end with the end-of-text id, so documents stay separated as both trainers expect.
Files are streamed (a split may be larger than memory) to a temporary name and renamed.
"""

from __future__ import annotations

import hashlib
import pickle
import struct

import numpy as np
import pyarrow as pa
from apache_beam.io.filesystems import FileSystems

from transforms.tokenizer_copies import TOKENIZER_JSON, tokenizer_files
from transforms.writers import AtomicFile

FORMATS = ("megatron", "nanogpt")
MEGATRON_HEADER = b"MMIDIDX\x00\x00"
MEGATRON_DTYPE_CODES = {np.dtype(np.uint16): 8, np.dtype(np.int32): 4}
NANOGPT_NAMES = {"train": "train.bin", "validation": "val.bin"}
NANOGPT_META = "meta.pkl"


def megatron_dtype(vocab_size: int) -> np.dtype:
    return np.dtype(np.uint16 if vocab_size < 65500 else np.int32)


class _HashedFile(AtomicFile):
    """An AtomicFile that also hashes what it writes; closed by described()."""

    def __init__(self, path: str):
        super().__init__(path)
        self._sha256 = hashlib.sha256()

    def write(self, data: bytes) -> None:
        super().write(data)
        self._sha256.update(data)

    def described(self) -> dict:
        """Closes the file; its {bytes, sha256}."""
        self.close()
        return {"bytes": self.size, "sha256": self._sha256.hexdigest()}


def _shard_batches(paths: list[str]):
    for path in paths:
        with FileSystems.open(path) as handle:
            yield from pa.ipc.open_stream(handle)


def export_split(fmt: str, split: str, shard_paths: list[str], directory: str, vocab_size: int) -> dict:
    """Writes `fmt` files for one split from its shards (in order) under `directory`; returns
    {format, split, dtype, sequences, tokens, files: [{path (relative), bytes, sha256}]}."""
    if fmt == "megatron":
        dtype = megatron_dtype(vocab_size)
        names = [f"megatron/{split}.bin", f"megatron/{split}.idx"]
    else:
        dtype = np.dtype(np.uint16)
        names = [f"nanogpt/{NANOGPT_NAMES[split]}"]
    data = _HashedFile(FileSystems.join(directory, names[0]))
    lengths_per_batch = []
    for batch in _shard_batches(shard_paths):
        column = batch.column("input_ids")
        data.write(column.flatten().to_numpy(zero_copy_only=False).astype(dtype).tobytes())
        lengths_per_batch.append(np.diff(np.asarray(column.offsets)))
    files = [{"path": names[0], **data.described()}]
    lengths = np.concatenate(lengths_per_batch).astype(np.int32) if lengths_per_batch else np.empty(0, np.int32)
    if fmt == "megatron":
        index = _HashedFile(FileSystems.join(directory, names[1]))
        index.write(megatron_index(lengths, dtype))
        files.append({"path": names[1], **index.described()})
    return {
        "format": fmt,
        "split": split,
        "dtype": dtype.name,
        "sequences": len(lengths),
        "tokens": int(lengths.sum(dtype=np.int64)),
        "files": files,
    }


def export_nanogpt_meta(
    directory: str, tokenizer_json: bytes, vocab_size: int, eos_id: int, eos_token: str
) -> list[dict]:
    """Writes nanogpt/meta.pkl and the tokenizer's files under `directory`; returns their
    [{path (relative), bytes, sha256}]."""
    files = {NANOGPT_META: nanogpt_meta(vocab_size, eos_id, eos_token), **tokenizer_files(tokenizer_json, eos_token)}
    entries = []
    for name, data in files.items():
        out = _HashedFile(FileSystems.join(directory, "nanogpt", name))
        out.write(data)
        entries.append({"path": f"nanogpt/{name}", **out.described()})
    return entries


def nanogpt_meta(vocab_size: int, eos_id: int, eos_token: str) -> bytes:
    """meta.pkl. nanoGPT's train.py reads `vocab_size`. Its sample.py, finding a meta.pkl, expects a
    character-level vocabulary (`stoi`, `itos`), which a BPE has not: there is none here, so that it
    stops at once rather than decode wrongly, and `tokenizer` names the file to decode with."""
    meta = {
        "vocab_size": vocab_size,
        "dtype": "uint16",
        "eos_id": eos_id,
        "eos_token": eos_token,
        "tokenizer": TOKENIZER_JSON,  # beside meta.pkl
        "decode": "byte-level BPE, not characters: tokenizers.Tokenizer.from_file(os.path.join(data_dir, "
        "meta['tokenizer'])).decode(ids), or transformers.AutoTokenizer.from_pretrained(data_dir)",
    }
    return pickle.dumps(meta, protocol=4)  # a fixed protocol: the same bytes on every Python


def megatron_index(lengths: np.ndarray, dtype: np.dtype) -> bytes:
    """The .idx file for sequences of `lengths` tokens, one document each."""
    count = len(lengths)
    pointers = (
        np.concatenate([[0], np.cumsum(lengths.astype(np.int64))[:-1]]) * dtype.itemsize
        if count
        else np.empty(0, np.int64)
    )
    return b"".join(
        [
            MEGATRON_HEADER,
            struct.pack("<Q", 1),
            struct.pack("<B", MEGATRON_DTYPE_CODES[dtype]),
            struct.pack("<Q", count),
            struct.pack("<Q", count + 1),
            lengths.astype(np.int32).tobytes(),
            np.asarray(pointers, np.int64).tobytes(),
            np.arange(count + 1, dtype=np.int64).tobytes(),
        ]
    )
