"""Documents to token ids: a fast encoder with exactly the ids of `tokenizers`, and the fallback.

    tokenizer.json --fast_path_problem()--> None   --> FastEncoder: a tiktoken.Encoding built from the
                         |                              same vocabulary (ranks = ids, GPT-2 split pattern)
                         +--> "why not" (logged) --> ReferenceEncoder: tokenizers.Tokenizer itself

Both return, per text, the ids of `Tokenizer.encode(text, add_special_tokens=False).ids` with the
text that spells a special token ("<|endoftext|>") encoded as plain text, never as the special
id: tiktoken's ordinary encoding ignores special tokens, and the reference sets
`encode_special_tokens` (as tokenizer_training.bpe.load_tokenizer does). The only end-of-text
ids in the shards are therefore the ones appended after each document; a document cannot forge
a boundary. tests/test_tokenize.py proves the two encoders agree on every document of the real
corpora and on Unicode edge cases; at run time `cross_check_fraction` of the documents are
encoded by both and a difference stops the job.

Why the fast path: tiktoken's BPE is several times faster than tokenizers' on the same
vocabulary and cores (docs/benchmarks.md). It is valid when the tokenizer is a byte-level BPE in
GPT-2's form; `fast_path_problem` lists the exact conditions and names the first one a tokenizer
misses. tiktoken releases the GIL, so FastEncoder spreads a batch over threads; long documents
are first cut where the GPT-2 split is the same on both sides (tokenizer_training.bpe.
training_pieces), so one book does not leave the other cores idle.
"""

from __future__ import annotations

import hashlib
import json
import os
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Iterator, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import tiktoken
from apache_beam.io.filesystems import FileSystems
from apache_beam.transforms.window import GlobalWindows
from tokenizers import Tokenizer

from pipeline.config import TokenizeConfig
from tokenizer_training.bpe import CHAR_TO_BYTE, load_tokenizer, token_bytes, training_pieces
from transforms.shards.arrow import encoded_table, to_ipc
from transforms.shards.layout import copies_of, seeded_fraction, split_of
from transforms.stats import CountingDoFn

# The pre-tokenizer split of GPT-2, as `tokenizers`' ByteLevel(use_regex=True) spells it.
GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
DOCUMENT_COLUMNS = ["id", "source", "text"]
PARQUET_READ_ROWS = 64  # rows decoded at a time; batches are then cut by bytes
PIECE_CHARS = 1 << 14  # documents are encoded in pieces of about this many characters


class TokenizerError(ValueError):
    """The tokenizer file cannot be used; the message says why."""


# ---------------------------------------------------------------------------
# The tokenizer file


@dataclass(frozen=True)
class TokenizerFile:
    """A tokenizer.json as read: its bytes, their sha256 and what the pipeline needs to know."""

    path: str
    data: bytes
    sha256: str
    vocab_size: int  # highest id + 1, special tokens included
    eos_id: int
    fast_path_problem: str | None  # None: FastEncoder gives the reference's ids

    @property
    def dtype(self) -> str:
        """uint16 when every id fits in 16 bits, else uint32."""
        return token_dtype(self.vocab_size)


def token_dtype(vocab_size: int) -> str:
    return "uint16" if vocab_size <= 1 << 16 else "uint32"


def resolve_tokenizer_path(path: str) -> str:
    """tokenizer.json itself, or the directory holding it (train-tokenizer's output)."""
    return path if path.endswith(".json") else FileSystems.join(path, "tokenizer.json")


def read_tokenizer_file(path: str, eos_token: str) -> TokenizerFile:
    """Reads and checks a tokenizer.json on any Beam filesystem; raises TokenizerError."""
    path = resolve_tokenizer_path(path)
    try:
        with FileSystems.open(path) as handle:
            data = handle.read()
    except Exception as err:  # the filesystem's own error types
        raise TokenizerError(f"cannot read {path!r}: {err}") from None
    spec = parse_tokenizer_json(data, path)
    eos_id = token_id(spec, eos_token)
    if eos_id is None:
        raise TokenizerError(f"{path!r} has no token {eos_token!r} (tokenize.eos_token)")
    return TokenizerFile(
        path=path,
        data=data,
        sha256=hashlib.sha256(data).hexdigest(),
        vocab_size=vocab_size(spec),
        eos_id=eos_id,
        fast_path_problem=fast_path_problem(spec),
    )


def parse_tokenizer_json(data: bytes, path: str = "tokenizer.json") -> dict:
    try:
        spec = json.loads(data)
        Tokenizer.from_str(data.decode("utf-8"))  # the reference must load it too
    except Exception as err:
        raise TokenizerError(f"{path!r} is not a tokenizers tokenizer.json: {err}") from None
    if not isinstance(spec.get("model"), dict) or not isinstance(spec["model"].get("vocab"), dict):
        raise TokenizerError(f"{path!r} has no model vocabulary")
    return spec


def vocab_size(spec: dict) -> int:
    ids = list(spec["model"]["vocab"].values()) + [t["id"] for t in spec.get("added_tokens") or []]
    return max(ids) + 1


def token_id(spec: dict, token: str) -> int | None:
    for added in spec.get("added_tokens") or []:
        if added["content"] == token:
            return added["id"]
    return spec["model"]["vocab"].get(token)


def _merge_pair(merge) -> tuple[str, str]:
    """A merge as saved by tokenizers: "a b" (before 0.20) or ["a", "b"]."""
    if isinstance(merge, str):
        left, _, right = merge.partition(" ")
        return left, right
    return merge[0], merge[1]


def _is_gpt2_byte_level(pre: dict | None, use_regex: bool) -> bool:
    return (
        pre is not None
        and pre.get("type") == "ByteLevel"
        and not pre.get("add_prefix_space", True)
        and pre.get("use_regex", True) == use_regex
    )


def fast_path_problem(spec: dict) -> str | None:
    """None where FastEncoder gives exactly the reference's ids, else the first reason it cannot.

    The fast path needs: a BPE model without dropout, continuing-subword prefix, end-of-word
    suffix or byte fallback; no normalizer; GPT-2's pre-tokenization (ByteLevel with its regex
    and no prefix space, or Split on the GPT-2 pattern then ByteLevel without regex); no added
    tokens but special ones (which plain text never produces); every other vocabulary entry
    spelled in the byte-level alphabet, all 256 bytes present, no two entries for the same bytes;
    every merge's result in the vocabulary, ids rising with merge rank, and every multi-byte
    token the result of exactly one merge (then rank order is merge order, as tiktoken assumes).
    """
    model = spec["model"]
    if model.get("type") != "BPE":
        return f"the model is {model.get('type')!r}, not BPE"
    if model.get("dropout"):
        return "BPE dropout makes encoding random"
    if model.get("continuing_subword_prefix") or model.get("end_of_word_suffix"):
        return "the BPE model uses a continuing-subword prefix or an end-of-word suffix"
    if model.get("byte_fallback"):
        return "the BPE model uses byte fallback (<0xNN> tokens)"
    if spec.get("normalizer") is not None:
        return f"a normalizer ({spec['normalizer'].get('type')}) rewrites the text first"
    pre = spec.get("pre_tokenizer")
    split_then_bytes = (
        pre is not None
        and pre.get("type") == "Sequence"
        and len(pre.get("pretokenizers", [])) == 2
        and pre["pretokenizers"][0].get("type") == "Split"
        and pre["pretokenizers"][0].get("pattern") == {"Regex": GPT2_PATTERN}
        and pre["pretokenizers"][0].get("behavior") == "Isolated"
        and not pre["pretokenizers"][0].get("invert")
        and _is_gpt2_byte_level(pre["pretokenizers"][1], use_regex=False)
    )
    if not (_is_gpt2_byte_level(pre, use_regex=True) or split_then_bytes):
        return "the pre-tokenizer is not GPT-2's byte-level split (ByteLevel, GPT-2 regex, no prefix space)"
    added = spec.get("added_tokens") or []
    if any(not t.get("special") for t in added):
        return "it has non-special added tokens, which tokenizers matches inside plain text"
    specials = {t["id"] for t in added}
    ranks: dict[bytes, int] = {}
    for token, i in model["vocab"].items():
        if i in specials:
            continue
        if not all(char in CHAR_TO_BYTE for char in token):
            return f"vocabulary entry {token!r} is not spelled in the byte-level alphabet"
        if ranks.setdefault(token_bytes(token), i) != i:
            return f"two vocabulary entries stand for the bytes of {token!r}"
    if any(bytes([b]) not in ranks for b in range(256)):
        return "the vocabulary lacks some of the 256 single bytes"
    vocab = model["vocab"]
    previous = -1
    results = set()
    for merge in model.get("merges", []):
        left, right = _merge_pair(merge)
        if left not in vocab or right not in vocab or left + right not in vocab:
            return f"merge {left!r} + {right!r} has a part or a result outside the vocabulary"
        merged = vocab[left + right]
        if merged <= previous:
            return "vocabulary ids do not rise with merge rank"
        previous = merged
        results.add(merged)
    if len(results) != len(ranks) - 256:
        return "some multi-byte tokens are not the result of exactly one merge"
    return None


def tiktoken_encoding(spec: dict) -> tiktoken.Encoding:
    """The tokenizer as a tiktoken.Encoding: rank of a token's bytes = its id (valid only where
    fast_path_problem(spec) is None). Special tokens are registered for decoding only."""
    added = spec.get("added_tokens") or []
    specials = {t["id"] for t in added}
    ranks = {token_bytes(token): i for token, i in spec["model"]["vocab"].items() if i not in specials}
    return tiktoken.Encoding(
        name="textshards",
        pat_str=GPT2_PATTERN,
        mergeable_ranks=ranks,
        special_tokens={t["content"]: t["id"] for t in added},
    )


# ---------------------------------------------------------------------------
# Encoders


class Encoder(Protocol):
    backend: str

    def encode_batch(self, texts: list[str]) -> list[np.ndarray]:
        """The ids of each text (uint32), without any special token added."""

    def close(self) -> None:
        """Releases threads."""


class FastEncoder:
    backend = "tiktoken"

    def __init__(self, spec: dict, threads: int = 1):
        """threads: encoding threads (0: one per core)."""
        self._encoding = tiktoken_encoding(spec)
        threads = threads or os.cpu_count() or 1
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="encode") if threads > 1 else None

    def _encode(self, text: str) -> np.ndarray:
        # Ordinary encoding: the spelling of a special token is plain text (no check, no error).
        return self._encoding.encode_to_numpy(text, allowed_special=set(), disallowed_special=())

    def encode_batch(self, texts: list[str]) -> list[np.ndarray]:
        if self._pool is None:
            return [self._encode(text) for text in texts]
        owners, pieces = [], []
        for i, text in enumerate(texts):
            for piece in training_pieces(text, PIECE_CHARS):
                owners.append(i)
                pieces.append(piece)
        parts: list[list[np.ndarray]] = [[] for _ in texts]
        for owner, ids in zip(owners, self._pool.map(self._encode, pieces)):
            parts[owner].append(ids)
        return [ids[0] if len(ids) == 1 else np.concatenate(ids) for ids in parts]

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()


class ReferenceEncoder:
    backend = "tokenizers"

    def __init__(self, path: str):
        self._tokenizer = load_tokenizer(path)  # sets encode_special_tokens
        # encode_batch_fast (tokenizers >= 0.21) skips the offsets nobody here reads.
        self._encode = getattr(self._tokenizer, "encode_batch_fast", self._tokenizer.encode_batch)

    def encode_batch(self, texts: list[str]) -> list[np.ndarray]:
        return [np.array(e.ids, dtype=np.uint32) for e in self._encode(texts, add_special_tokens=False)]

    def close(self) -> None:
        pass


def make_encoder(path: str, backend: str, threads: int = 1) -> Encoder:
    """The encoder `backend` ("tiktoken" or "tokenizers") for the tokenizer.json at `path`;
    threads: the fast encoder's (0: one per core); tokenizers uses every core by itself."""
    if backend == FastEncoder.backend:
        with FileSystems.open(path) as handle:
            return FastEncoder(json.loads(handle.read()), threads)
    return ReferenceEncoder(path)


# ---------------------------------------------------------------------------
# Reading documents


def read_document_batches(path: str, batch_bytes: int) -> Iterator[pa.Table]:
    """A docs/*.parquet file as tables (id, source, text) of about `batch_bytes` of text each (a
    longer document alone), in file order."""
    pending: list[pa.RecordBatch] = []
    pending_bytes = 0
    with FileSystems.open(path) as handle:
        for batch in pq.ParquetFile(handle).iter_batches(batch_size=PARQUET_READ_ROWS, columns=DOCUMENT_COLUMNS):
            sizes = pc.binary_length(batch.column("text")).to_numpy(zero_copy_only=False)
            start = 0
            for row, size in enumerate(sizes.tolist()):
                pending_bytes += size
                if pending_bytes >= batch_bytes:
                    pending.append(batch.slice(start, row + 1 - start))
                    yield pa.Table.from_batches(pending)
                    pending, pending_bytes, start = [], 0, row + 1
            if start < batch.num_rows:
                pending.append(batch.slice(start))
    if pending:
        yield pa.Table.from_batches(pending)


# ---------------------------------------------------------------------------
# Beam


@dataclass
class _Batch:
    """A batch on its way through EncodeDocuments: what is known before its ids are."""

    ids: list[str]
    sources: list[str]
    splits: list[str]
    copies: list[int]
    sizes: list[int]
    texts: list[str]
    encoded: Future  # of list[np.ndarray]


class EncodeDocuments(CountingDoFn):
    """Tables of documents -> IPC batches of encoded rows (transforms/shards/arrow.encoded_table).

    Per document: its split and, in train, its number of copies (source weights); documents with
    no copy are not encoded. Counts per source: documents_read, bytes_read (UTF-8 text),
    dropped.source_weight, and per split `documents` (copies included), `tokens` and `text_bytes`.

    A batch is encoded in the background while the previous one is turned into rows (and the
    next one read), so the encoder's threads rarely wait for Python.
    """

    progress_label = "batches"

    def __init__(self, tokenizer_path: str, backend: str, settings: TokenizeConfig, dtype: str, eos_id: int):
        self._tokenizer_path = tokenizer_path
        self._backend = backend
        self._settings = settings
        self._dtype = dtype
        self._eos_id = eos_id

    def setup(self):
        super().setup()
        self._encoder = make_encoder(self._tokenizer_path, self._backend, self._settings.encode_threads)
        self._background = ThreadPoolExecutor(1, thread_name_prefix="encode-batch")
        self._reference = None  # loaded at the first cross-checked document
        self._weights = {w.source: w.weight for w in self._settings.source_weights}

    def start_bundle(self):
        super().start_bundle()
        self._pending: _Batch | None = None

    def process(self, table: pa.Table):
        batch = self._start(table)
        if self._pending is not None:
            yield self._finish(self._pending)
        self._pending = batch

    def finish_bundle(self):
        if self._pending is not None:
            yield GlobalWindows.windowed_value(self._finish(self._pending))
            self._pending = None
        yield from super().finish_bundle()

    def teardown(self):
        self._background.shutdown()
        self._encoder.close()

    def _start(self, table: pa.Table) -> _Batch:
        """Splits and copies of the batch's documents; starts encoding those with a copy."""
        settings = self._settings
        ids = table.column("id").to_pylist()
        sources = table.column("source").to_pylist()
        texts = table.column("text").to_pylist()
        sizes = pc.binary_length(table.column("text")).to_numpy(zero_copy_only=False).tolist()
        splits, copies = [], []
        for doc_id, source, size in zip(ids, sources, sizes):
            split = split_of(doc_id, settings.validation_fraction)
            n = 1 if split == "validation" else copies_of(doc_id, self._weights.get(source, 1.0), settings.seed)
            splits.append(split)
            copies.append(n)
            self.count(source, "documents_read")
            self.count(source, "bytes_read", size)
            if n == 0:
                self.count(source, "dropped.source_weight")
        self.note_progress(sum(sizes))
        kept = [i for i, n in enumerate(copies) if n]
        texts = [texts[i] for i in kept]
        return _Batch(
            ids=[ids[i] for i in kept],
            sources=[sources[i] for i in kept],
            splits=[splits[i] for i in kept],
            copies=[copies[i] for i in kept],
            sizes=[sizes[i] for i in kept],
            texts=texts,
            encoded=self._background.submit(self._encoder.encode_batch, texts),
        )

    def _finish(self, batch: _Batch) -> bytes:
        arrays = batch.encoded.result()
        self._cross_check(batch.ids, batch.sources, batch.texts, arrays)
        rows = encoded_table(
            ids=batch.ids,
            sources=batch.sources,
            splits=batch.splits,
            copies=batch.copies,
            text_bytes=batch.sizes,
            token_arrays=arrays,
            eos_id=self._eos_id,
            dtype=self._dtype,
            seed=self._settings.seed,
        )
        for array, n, split, source, size in zip(arrays, batch.copies, batch.splits, batch.sources, batch.sizes):
            self.count(source, f"{split}.documents", n)
            self.count(source, f"{split}.tokens", n * (len(array) + 1))
            self.count(source, f"{split}.text_bytes", n * size)
        return to_ipc(rows)

    def _cross_check(self, ids: list[str], sources: list[str], texts: list[str], arrays: list[np.ndarray]) -> None:
        """Re-encodes the sampled documents with `tokenizers`; raises on any difference."""
        fraction = self._settings.cross_check_fraction
        if self._backend == ReferenceEncoder.backend or fraction <= 0:
            return
        chosen = [i for i, doc_id in enumerate(ids) if seeded_fraction(doc_id, "cross_check", 0) < fraction]
        if not chosen:
            return
        if self._reference is None:
            self._reference = ReferenceEncoder(self._tokenizer_path)
        expected = self._reference.encode_batch([texts[i] for i in chosen])
        for i, want in zip(chosen, expected):
            if not np.array_equal(arrays[i], want):
                raise RuntimeError(
                    f"the fast encoder's ids differ from tokenizers' for document {ids[i]!r}; "
                    f"rerun with tokenize.encoder: tokenizers and report the tokenizer and document"
                )
            self.count(sources[i], "cross_checked")
