"""Training windows from the Arrow token shards of `textshards tokenize`, memory-mapped.

    SHARDDIR/manifest.json --read_manifest--> Manifest (dtype, eos id, vocab, tokenizer hash, splits)
    SHARDDIR/{train,validation}/shard-*.arrow --TokenStream (mmap, zero-copy)--> one token sequence per split
    (seed, step) --WindowSampler--> window starts --TokenStream.windows--> (B, block_size + 1) tokens

Nothing is read into memory up front: each shard is memory-mapped and its `input_ids` values
are numpy views of the mapped file, so the process's own memory does not grow with the shard
set; only the pages of the windows read are touched (page cache, shared and reclaimable).

Sampling is stateless: the windows of optimizer step `s` are drawn by
`numpy.random.default_rng([seed, s])`, the whole global batch at once (devices x micro-batches
x batch_size windows); device `r` takes its fixed slice of that list. The sampler's position is
therefore just the step, which is what a checkpoint records, and a run on 2 devices reads the
same windows as a run on 1 device with twice the gradient accumulation.

Documents-mode shards hold one document per row (each followed by the end-of-text id); a
window starts at any token, so it may span documents (and shards). Packed shards hold rows of
`seq_len + 1` tokens; a window is one row. Either way the trainer can restart position ids and/or
confine attention at document boundaries (trainer.train.document_inputs): a document starts
after each end-of-text token, which in packed shards is exactly the rows' `doc_starts`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from transforms.settings import OperatorError
from transforms.shards.relative_paths import leaves_directory, refusal

# ---------------------------------------------------------------------------
# The shard format of `textshards tokenize` (docs/shards.md, transforms/shards/): the names the
# trainer relies on. Read here without Beam, so that training runs where only torch is installed.

MANIFEST = "manifest.json"
FORMAT = "textshards.shards"
TOKENS_COLUMN = "input_ids"


class ShardError(OperatorError):
    """The shards cannot be trained on; the message says which file and why."""


@dataclass
class ShardInfo:
    path: Path  # absolute
    file_bytes: int


@dataclass
class SplitInfo:
    shards: list[ShardInfo]
    tokens: int  # in the files, each document's end-of-text token included
    tokens_per_byte: float  # of the documents' UTF-8 text (before packing dropped a tail): for bits per byte


@dataclass
class Manifest:
    root: Path
    dtype: str  # uint16 or uint32
    eos_id: int
    eos_token: str
    vocab_size: int
    tokenizer_sha256: str
    packed_seq_len: int | None  # None for documents mode (one document per row)
    splits: dict[str, SplitInfo]
    tokenizer_path: Path  # the copy of tokenizer.json beside the manifest


def read_manifest(shards_dir: str | Path) -> Manifest:
    """SHARDDIR/manifest.json as a Manifest; raises ShardError naming what is missing."""
    root = Path(shards_dir).resolve()
    path = root / MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ShardError(f"{path}: no manifest; is {str(root)!r} the output of `textshards tokenize`?") from None
    except (OSError, ValueError) as err:
        raise ShardError(f"{path}: cannot read the manifest: {err}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ShardError(f"{path}: not a textshards shard manifest (format {FORMAT!r})")

    def inside(relative: object) -> Path:
        if leaves_directory(relative):
            raise ShardError(f"{path}: {refusal(relative)}")
        return root / str(relative)

    try:
        splits = {}
        for name, split in data["splits"].items():
            shards = [ShardInfo(path=inside(s["path"]), file_bytes=int(s["bytes"])) for s in split["shards"]]
            all_tokens = int(split["tokens"]) + int(split["tokens_dropped"])
            splits[name] = SplitInfo(
                shards=shards,
                tokens=int(split["tokens"]),
                tokens_per_byte=all_tokens / max(1, int(split["text_bytes"])),
            )
        return Manifest(
            root=root,
            dtype=data["dtype"],
            eos_id=int(data["eos_id"]),
            eos_token=str(data["eos_token"]),
            vocab_size=int(data["vocab_size"]),
            tokenizer_sha256=data["tokenizer_sha256"],
            packed_seq_len=int(data["seq_len"]) if data["mode"] == "packed" else None,
            splits=splits,
            tokenizer_path=inside(data["tokenizer_file"]),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise ShardError(f"{path}: not a shard manifest (missing or bad {err})") from None


def verify_shards(manifest: Manifest, mode: str = "full") -> None:
    """Refuses shards that do not match their manifest; raises ShardError listing the problems.

    full: the tokenize stage's own `verify` (transforms/shards/manifest.py, needs Beam): _SUCCESS,
    every shard's size, sha256 and contents (schema, token counts, ids below the vocabulary,
    end-of-text after each document), no unlisted shards, the tokenizer copy's sha256.
    size: every listed shard exists with the manifest's size (cheap; for machines without Beam).
    """
    if mode == "full":
        try:
            from transforms.shards.manifest import verify
        except ImportError as err:
            raise ShardError(
                f"verify=full needs textshards' core install (apache-beam): {err}; "
                "use --set verify=size where only the trainer is installed"
            ) from None
        problems = verify(str(manifest.root))
    else:
        problems = []
        for split in manifest.splits.values():
            for shard in split.shards:
                where = shard.path.relative_to(manifest.root)
                size = shard.path.stat().st_size if shard.path.exists() else None
                if size is None:
                    problems.append(f"{where}: missing")
                elif size != shard.file_bytes:
                    problems.append(f"{where}: {size} bytes, the manifest says {shard.file_bytes}")
    if problems:
        shown = "\n  ".join(problems[:10]) + (f"\n  ... and {len(problems) - 10} more" if len(problems) > 10 else "")
        raise ShardError(f"{manifest.root}: the shards do not verify against {MANIFEST}:\n  {shown}")


def check_tokenizer(manifest: Manifest, expected_sha256: str) -> None:
    """Refuses shards made with another tokenizer than the run's."""
    if expected_sha256 and manifest.tokenizer_sha256 != expected_sha256:
        raise ShardError(
            f"{manifest.root}: these shards were made with tokenizer sha256 {manifest.tokenizer_sha256[:16]}..., "
            f"but this run's config pins tokenizer_sha256 {expected_sha256[:16]}...; token ids would mean other "
            "text. Use shards of the run's tokenizer, or start a new run (--fresh or another --output)."
        )


class TokenStream:
    """One split's tokens as one flat sequence, memory-mapped: `windows(starts, length)` copies
    out just the windows asked for. Packed shards' rows (all seq_len + 1 tokens, which verify
    checks) follow one another in it, so row i starts at token i * (seq_len + 1).
    """

    def __init__(self, split: SplitInfo, packed_seq_len: int | None = None):
        self._files = []  # keeps the mappings open
        self.chunks = []  # one numpy view per record batch
        for shard in split.shards:
            source = pa.memory_map(str(shard.path), "r")
            self._files.append(source)
            try:
                batches = list(pa.ipc.open_stream(source))
            except pa.ArrowInvalid as err:
                raise ShardError(f"{shard.path}: not an Arrow IPC stream ({err})") from None
            for batch in batches:
                column = batch.column(TOKENS_COLUMN)
                if column.null_count:
                    raise ShardError(f"{shard.path}: {TOKENS_COLUMN} has null rows")
                if len(column):
                    self.chunks.append(_zero_copy(column.flatten(), shard.path))
        self.chunk_starts = np.cumsum([0] + [len(c) for c in self.chunks])
        self.n_tokens = int(self.chunk_starts[-1])
        self.row_length = packed_seq_len + 1 if packed_seq_len is not None else None

    def windows(self, starts: np.ndarray, length: int) -> np.ndarray:
        """(len(starts), length) int64 tokens: the tokens at [start, start + length) of the split."""
        out = np.empty((len(starts), length), dtype=np.int64)
        chunk_of = np.searchsorted(self.chunk_starts, starts, side="right") - 1
        for row, (start, chunk) in enumerate(zip(starts.tolist(), chunk_of.tolist())):
            offset = start - int(self.chunk_starts[chunk])
            filled = 0
            while filled < length:  # a window may run on into the next chunk
                piece = self.chunks[chunk][offset : offset + length - filled]
                out[row, filled : filled + len(piece)] = piece
                filled += len(piece)
                chunk, offset = chunk + 1, 0
        return out


def _zero_copy(values: pa.Array, path: Path) -> np.ndarray:
    """The token values as a numpy view of the mapped file (no copy, so no resident memory)."""
    if values.type not in (pa.uint16(), pa.uint32()):
        raise ShardError(f"{path}: {TOKENS_COLUMN} holds {values.type}, expected list<uint16> or list<uint32>")
    try:
        return values.to_numpy(zero_copy_only=True)
    except pa.ArrowInvalid as err:  # compressed IPC buffers cannot be viewed in place
        raise ShardError(f"{path}: {TOKENS_COLUMN} cannot be memory-mapped ({err})") from None


class WindowSampler:
    """Window starts for each optimizer step, a pure function of (seed, step).

    Documents mode: a start anywhere a whole window fits. Packed shards: the start of a row.
    """

    def __init__(self, stream: TokenStream, window: int, seed: int):
        self.stream, self.window, self.seed = stream, window, seed
        self.n_choices = _choices(stream, window)
        if self.n_choices <= 0:
            raise ShardError(
                f"the training split holds {stream.n_tokens} tokens, not one window of {window} (block_size + 1)"
            )

    def step_starts(self, step: int, count: int) -> np.ndarray:
        """The `count` window starts of optimizer step `step` (the whole global batch, in order)."""
        picks = np.random.default_rng([self.seed, step]).integers(0, self.n_choices, size=count)
        return picks * (self.stream.row_length or 1)


def _choices(stream: TokenStream, window: int) -> int:
    """Rows (packed) or window starts (documents mode) to choose from."""
    if stream.row_length is not None:
        return stream.n_tokens // stream.row_length
    return stream.n_tokens - window + 1


def validation_starts(stream: TokenStream, window: int, count: int) -> np.ndarray:
    """Up to `count` window starts spread evenly over the split, always the same ones, so that
    every evaluation of a run (and of other runs on the same shards) scores the same tokens.
    Disjoint windows where the split is long enough."""
    choices = _choices(stream, window)
    if choices <= 0:
        return np.empty(0, dtype=np.int64)
    if stream.row_length is not None:
        picks = np.linspace(0, choices - 1, num=min(count, choices))
        return np.unique(picks.round().astype(np.int64)) * stream.row_length
    count = min(count, max(1, stream.n_tokens // window))
    return np.unique(np.linspace(0, choices - 1, num=count).round().astype(np.int64))


def bits_per_byte(loss_nats_per_token: float, split: SplitInfo) -> float:
    """Validation loss per UTF-8 byte of text, in bits: comparable across tokenizers."""
    return loss_nats_per_token / math.log(2) * split.tokens_per_byte
