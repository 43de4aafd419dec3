"""Documents to token ids: a fast encoder with exactly the ids of `tokenizers`, and the fallback.

The tokenize stage's settings (`TokenizeConfig`) live here too.

    tokenizer.json --fast_path_problem()--> None   --> FastEncoder: a tiktoken.Encoding built from the
                         |                              same vocabulary (ranks = ids, GPT-2 split pattern)
                         +--> "why not" (logged) --> ReferenceEncoder: tokenizers.Tokenizer itself

(`fast_path_problem` is in transforms/tokenizer_file.py.)

Both return, per text, the ids of `Tokenizer.encode(text, add_special_tokens=False).ids` with the
text that spells a special token ("<|endoftext|>") encoded as plain text, never as the special
id: tiktoken's ordinary encoding ignores special tokens, and the reference sets
`encode_special_tokens` (as transforms.bpe.load_tokenizer does). The only end-of-text
ids in the shards are therefore the ones appended after each document; a document cannot forge
a boundary. tests/test_tokenize.py proves the two encoders agree on every document of the real
corpora and on Unicode edge cases; at run time `cross_check_fraction` of the documents are
encoded by both and a difference stops the job.

Why the fast path: tiktoken's BPE is several times faster than tokenizers' on the same
vocabulary and cores (docs/benchmarks.md). It is valid when the tokenizer is a byte-level BPE in
GPT-2's form; `fast_path_problem` lists the exact conditions and names the first one a tokenizer
misses. tiktoken releases the GIL, so FastEncoder spreads a batch over threads; long documents
are first cut where the GPT-2 split is the same on both sides (transforms.bpe.
training_pieces), so one book does not leave the other cores idle.
"""

from __future__ import annotations

import json
import os
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Iterable, Iterator, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from apache_beam.io.filesystems import FileSystems
from apache_beam.transforms.window import GlobalWindows

from transforms.bpe import load_tokenizer, training_pieces
from transforms.progress import ProgressReport
from transforms.readers import streamed_parquet
from transforms.sampling import SourceWeight, hash_fraction, source_weight_problems
from transforms.settings import must_be_fraction, must_be_non_negative, must_be_one_of, must_be_positive, setting
from transforms.shards.arrow import encoded_table
from transforms.shards.layout import copies_of, seeded_fraction, split_of
from transforms.stats import CountingDoFn
from transforms.tokenizer_file import tiktoken_encoding

TOKENIZE_ENCODERS = ("auto", "tiktoken", "tokenizers")


@dataclass
class TokenizeConfig:
    docs: str = setting("Cleaned documents: prepare's DIR/docs (its *.parquet files are read).", default="")
    tokenizer: str = setting("tokenizer.json, or the directory holding it (train-tokenizer's output).", default="")
    eos_token: str = setting(
        "Special token appended after every document (its id must exist).", default="<|endoftext|>"
    )
    encoder: str = setting(
        "auto: the fast tiktoken encoder where it gives tokenizers' exact ids (byte-level BPE in "
        "GPT-2's form, docs/shards.md), else tokenizers, saying why in the log; tiktoken: fail "
        "unless the fast path applies; tokenizers: always the reference library.",
        default="auto",
    )
    cross_check_fraction: float = setting(
        "Share of documents (by hash of id) also encoded with tokenizers when the fast encoder "
        "runs; any difference stops the job. 0 turns the check off.",
        default=0.001,
    )
    validation_fraction: float = setting(
        "Share of documents in the validation split, by hash of the document id alone: a "
        "document keeps its split when the corpus grows. Where it gives none of 2 or more "
        "documents, the one at the top of the hash order goes to validation (docs/shards.md).",
        default=0.01,
    )
    seed: int = setting(
        "Seed of the shuffle (order of documents across and within shards) and of source sampling.", default=0
    )
    source_weights: list[SourceWeight] = setting(
        "Train-split sampling per source, a list of {source: NAME, weight: W}: each document "
        "appears W times on average (2 doubles a source, 0.5 keeps half, 0 leaves it out); "
        "unlisted sources weigh 1. Validation keeps every document once.",
        default_factory=list,
    )
    packed: bool = setting(
        "Write fixed windows of seq_len + 1 tokens across document boundaries, with each window's "
        "document starts, instead of one row per document.",
        default=False,
    )
    seq_len: int = setting("Packed mode: tokens a model sees per sample (windows hold seq_len + 1).", default=1024)
    shard_target_tokens: int = setting("Target tokens per shard; 0 derives it from shard_target_bytes.", default=0)
    shard_target_bytes: int = setting(
        "Target size of a shard's token data in bytes (tokens x 2, or x 4 for vocabularies over "
        "65,536), used when shard_target_tokens is 0. A shard's writer holds about twice this in "
        "memory, so it bounds tokenize's memory per worker.",
        default=64 * 1024 * 1024,
    )
    batch_bytes: int = setting("Text encoded per batch, in bytes.", default=4 * 1024 * 1024)
    encode_threads: int = setting(
        "Threads of the fast encoder in each worker; 0: one per core (tiktoken runs without the GIL, "
        "so one worker process can use every core).",
        default=0,
    )
    export_megatron: bool = setting(
        "Also write megatron/{split}.bin/.idx (Megatron-LM's indexed dataset).", default=False
    )
    export_nanogpt: bool = setting(
        "Also write nanogpt/train.bin and val.bin (flat uint16, as nanoGPT reads).", default=False
    )

    def problems(self) -> list[str]:
        """What types alone cannot check, one line per problem naming the field."""
        problems = must_be_one_of("tokenize.encoder", self.encoder, TOKENIZE_ENCODERS)
        if not self.eos_token:
            problems.append("tokenize.eos_token: must not be empty")
        problems += must_be_fraction("tokenize.cross_check_fraction", self.cross_check_fraction)
        if not 0 <= self.validation_fraction < 1:
            problems.append(f"tokenize.validation_fraction: {self.validation_fraction!r} must be in [0, 1)")
        if not 0 <= self.seed < 2**64:
            problems.append(f"tokenize.seed: {self.seed!r} must be between 0 and 2**64 - 1")
        problems += source_weight_problems("tokenize.source_weights", self.source_weights)
        problems += must_be_positive("tokenize.seq_len", self.seq_len)
        if not 0 <= self.shard_target_tokens <= 2**28:
            problems.append(
                f"tokenize.shard_target_tokens: {self.shard_target_tokens!r} must be between 0 "
                "and 2**28 (Arrow list offsets are 32-bit)"
            )
        if not 0 < self.shard_target_bytes <= 2**30:
            problems.append(f"tokenize.shard_target_bytes: {self.shard_target_bytes!r} must be between 1 and 2**30")
        problems += must_be_positive("tokenize.batch_bytes", self.batch_bytes)
        return problems + must_be_non_negative("tokenize.encode_threads", self.encode_threads)


DOCUMENT_COLUMNS = ["id", "source", "text"]


PARQUET_READ_ROWS = 64  # rows decoded at a time; batches are then cut by bytes


PIECE_CHARS = 1 << 14  # documents are encoded in pieces of about this many characters


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


def batch_name(path: str, index: int) -> str:
    """NAME of a docs file's `index`-th batch, e.g. part-00003-00012: unique among the files of one
    docs directory, and the same on every run (it names the batch's intermediate files)."""
    stem = FileSystems.split(path)[1].removesuffix(".parquet")
    return f"{stem}-{index:05d}"


def read_document_batches(path: str, batch_bytes: int, progress: ProgressReport) -> Iterator[tuple[str, pa.Table]]:
    """A docs/*.parquet file as (NAME, table of id, source, text) pairs with about `batch_bytes` of
    text each (a longer document alone), in file order; NAME is `batch_name`. Reports its reading
    on `progress`."""
    tables = _document_tables(path, batch_bytes, progress)
    return ((batch_name(path, index), table) for index, table in enumerate(tables))


def _document_tables(path: str, batch_bytes: int, progress: ProgressReport) -> Iterator[pa.Table]:
    pending: list[pa.RecordBatch] = []
    pending_bytes = 0
    with FileSystems.open(path) as handle:
        reading = progress.whole_file(handle)
        parquet = streamed_parquet(handle)
        batches = parquet.iter_batches(batch_size=PARQUET_READ_ROWS, columns=DOCUMENT_COLUMNS)
        for batch in reading.of_batches(batches, parquet.metadata.num_rows):
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


ID_READ_ROWS = 8192  # ids decoded at a time by id_totals


def id_totals(path: str) -> tuple[int, float]:
    """(documents, the highest hash fraction of their ids) of one docs file: what the validation
    split's lower end needs (transforms/shards/layout.validation_from). Reads the id column only."""
    documents, top = 0, 0.0
    with FileSystems.open(path) as handle:
        for batch in streamed_parquet(handle).iter_batches(batch_size=ID_READ_ROWS, columns=["id"]):
            documents += batch.num_rows
            top = max([top, *map(hash_fraction, batch.column("id").to_pylist())])
    return documents, top


def add_id_totals(parts: Iterable[tuple[int, float]]) -> tuple[int, float]:
    """Sums `id_totals` of several files (a CombineGlobally function: associative and commutative)."""
    parts = list(parts)
    return sum(documents for documents, _ in parts), max((top for _, top in parts), default=0.0)


@dataclass
class _Batch:
    """A batch on its way through EncodeDocuments: what is known before its ids are."""

    name: str
    ids: list[str]
    sources: list[str]
    splits: list[str]
    copies: list[int]
    sizes: list[int]
    texts: list[str]
    encoded: Future  # of list[np.ndarray]


class EncodeDocuments(CountingDoFn):
    """A docs/*.parquet path -> (NAME, table of encoded rows) per batch of its documents
    (read_document_batches; transforms/shards/arrow.encoded_table).

    The file is read here, not in a step before: this step reads a side input, before which the
    DirectRunner holds the whole of its main input, so that input must be file names, not text
    (with the reading a step of its own, it held every document of the corpus: 24 GB at 4 GB).

    Per document: its split (validation from the side input `validation_from` up) and, in train,
    its number of copies (source weights); documents with no copy are not encoded. Counts per
    source: documents_read, bytes_read (UTF-8 text), dropped.source_weight, and per split
    `documents` (copies included), `tokens` and `text_bytes`; and validation.by_minimum, the
    document placed there because validation_fraction alone left validation empty.

    A batch is encoded in the background while the previous one is turned into rows (and the
    next one read), so the encoder's threads rarely wait for Python.
    """

    def __init__(
        self,
        tokenizer_path: str,
        backend: str,
        settings: TokenizeConfig,
        dtype: str,
        eos_id: int,
        progress: ProgressReport,
    ):
        self._tokenizer_path = tokenizer_path
        self._progress = progress
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

    def process(self, path: str, validation_from: float):
        for name, table in read_document_batches(path, self._settings.batch_bytes, self._progress):
            yield from self.encode_batch(name, table, validation_from)

    def encode_batch(self, name: str, table: pa.Table, validation_from: float):
        """Starts encoding this batch; yields the one before it, encoded meanwhile (or at finish_bundle)."""
        batch = self._start(name, table, validation_from)
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

    def _start(self, name: str, table: pa.Table, validation_from: float) -> _Batch:
        """Splits and copies of the batch's documents; starts encoding those with a copy."""
        settings = self._settings
        by_minimum = validation_from < 1.0 - settings.validation_fraction
        ids = table.column("id").to_pylist()
        sources = table.column("source").to_pylist()
        texts = table.column("text").to_pylist()
        sizes = pc.binary_length(table.column("text")).to_numpy(zero_copy_only=False).tolist()
        splits, copies = [], []
        for doc_id, source, size in zip(ids, sources, sizes):
            split = split_of(doc_id, validation_from)
            n = 1 if split == "validation" else copies_of(doc_id, self._weights.get(source, 1.0), settings.seed)
            if split == "validation" and by_minimum:
                self.count(source, "validation.by_minimum")
            splits.append(split)
            copies.append(n)
            self.count(source, "documents_read")
            self.count(source, "bytes_read", size)
            if n == 0:
                self.count(source, "dropped.source_weight")
        kept = [i for i, n in enumerate(copies) if n]
        texts = [texts[i] for i in kept]
        return _Batch(
            name=name,
            ids=[ids[i] for i in kept],
            sources=[sources[i] for i in kept],
            splits=[splits[i] for i in kept],
            copies=[copies[i] for i in kept],
            sizes=[sizes[i] for i in kept],
            texts=texts,
            encoded=self._background.submit(self._encoder.encode_batch, texts),
        )

    def _finish(self, batch: _Batch) -> tuple[str, pa.Table]:
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
        return batch.name, rows

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
