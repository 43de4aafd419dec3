"""A tokenizer.json as the tokenize stage reads it, and the proof that tiktoken gives its exact ids.

    tokenizer.json --read_tokenizer_file--> TokenizerFile: bytes, sha256, vocabulary size, eos id, token dtype
                                             and fast_path_problem: None, or why tiktoken cannot serve it

The fast path is valid when the tokenizer is a byte-level BPE in GPT-2's form; `fast_path_problem`
lists the exact conditions and names the first one a tokenizer misses; `tiktoken_encoding` builds
the equivalent tiktoken.Encoding (ranks = ids, GPT-2 split pattern). transforms/encode.py encodes
with it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import tiktoken
from apache_beam.io.filesystems import FileSystems
from tokenizers import Tokenizer

from transforms.bpe import CHAR_TO_BYTE, token_bytes

# The pre-tokenizer split of GPT-2, as `tokenizers`' ByteLevel(use_regex=True) spells it.
GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""


class TokenizerError(ValueError):
    """The tokenizer file cannot be used; the message says why."""


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
    """The one place the uint16 limit lives: shards, exports and the trainer follow the dtype."""
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
