"""The tokenizer itself: byte-level BPE in the GPT-2 style, assembled from named parts.

    text --(no normaliser)--> --ByteLevel pre-tokenizer (GPT-2 split pattern, bytes as 256 symbols)-->
         --BPE model (merges learnt here)--> ids --ByteLevel decoder--> the same text

Every one of the 256 bytes is in the initial alphabet, so no input is ever unknown and
`decode(encode(x)) == x` for every string. The special tokens come first in the vocabulary
(ids 0, 1, ...); the first is the end-of-text token, which separates documents and is the
eos/bos token for `transformers`.

Special tokens are never produced by plain text: a document that contains the literal string
"<|endoftext|>" is encoded as its bytes, like any other text. `tokenizers` matches added tokens
in the input unless `encode_special_tokens` is set, and that flag is not saved in
tokenizer.json: `transforms.bpe.load_tokenizer` sets it, and tokenizer_config.json sets
`split_special_tokens`, which makes `transformers` set it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

from transforms.bpe import batched, training_pieces
from transforms.sampling import SourceWeight, check_source_weights
from transforms.settings import ConfigError, require_positive, setting


@dataclass
class TokenizerConfig:
    docs: str = setting("Cleaned documents: prepare's DIR/docs (its *.parquet files are read).", default="")
    vocab_size: int = setting(
        "Vocabulary size, counting the 256 byte tokens and the special tokens; training stops "
        "earlier where no pair is left that occurs min_frequency times.",
        default=32768,
    )
    min_frequency: int = setting(
        "Two tokens are merged only if they occur together this often in the sample.", default=2
    )
    special_tokens: list[str] = setting(
        "Special tokens, ids 0, 1, ... in this order. The first is the end-of-text token: it "
        "separates documents and is the eos/bos token. Plain text never produces them.",
        default_factory=lambda: ["<|endoftext|>"],
    )
    max_token_length: int = setting("Longest token, in bytes; 0 means no limit.", default=0)
    sample_bytes: int = setting(
        "Training sample size, bytes of UTF-8 text at most: documents drawn by hash of their id, "
        "each source in proportion to its size times its weight. Training memory grows with it "
        "(docs/tokenizer.md).",
        default=1_000_000_000,
    )
    source_weights: list[SourceWeight] = setting(
        "Per-source sampling weights: a list of {source: NAME, weight: W}; sources not listed weigh 1.",
        default_factory=list,
    )
    heldout_fraction: float = setting(
        "Held-out slice for the report, never in the sample: at most this fraction of each "
        "source's documents (by hash of document id); 0 for none.",
        default=0.05,
    )
    heldout_bytes: int = setting(
        "Held-out slice: at most about this many bytes of text per source.", default=10_000_000
    )
    reference: str = setting(
        "A tokenizer.json (or a directory holding one), e.g. GPT-2's, measured beside ours in the "
        "report; empty for none. Never downloaded.",
        default="",
    )

    def validate(self) -> None:
        """Checks what types alone cannot; raises ConfigError naming the field."""
        if not self.special_tokens or not all(self.special_tokens):
            raise ConfigError(
                f"tokenizer.special_tokens: {self.special_tokens!r} must be non-empty "
                "strings, at least one (the end-of-text token)"
            )
        if len(set(self.special_tokens)) != len(self.special_tokens):
            raise ConfigError(f"tokenizer.special_tokens: {self.special_tokens!r} has duplicates")
        smallest = 256 + len(self.special_tokens)
        if self.vocab_size < smallest:
            raise ConfigError(
                f"tokenizer.vocab_size: {self.vocab_size!r} must be at least {smallest} "
                f"(256 bytes + {len(self.special_tokens)} special tokens)"
            )
        require_positive("tokenizer.min_frequency", self.min_frequency)
        if self.max_token_length < 0:
            raise ConfigError(f"tokenizer.max_token_length: {self.max_token_length!r} must be >= 0")
        require_positive("tokenizer.sample_bytes", self.sample_bytes)
        if not 0 <= self.heldout_fraction <= 0.5:
            raise ConfigError(f"tokenizer.heldout_fraction: {self.heldout_fraction!r} must be between 0 and 0.5")
        require_positive("tokenizer.heldout_bytes", self.heldout_bytes)
        check_source_weights("tokenizer.source_weights", self.source_weights)


def new_tokenizer() -> Tokenizer:
    """An untrained byte-level BPE tokenizer, configured exactly as GPT-2's tokenizer.json."""
    tokenizer = Tokenizer(models.BPE(fuse_unk=False, byte_fallback=False))
    tokenizer.normalizer = None
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tokenizer.decoder = decoders.ByteLevel()
    # Offsets only: adds no tokens, so encode(x) holds nothing but the text's own tokens.
    tokenizer.post_processor = processors.ByteLevel(trim_offsets=False)
    return tokenizer


def new_trainer(config: TokenizerConfig, show_progress: bool = True) -> trainers.BpeTrainer:
    """The BPE trainer for `config`: all 256 bytes in the alphabet, special tokens first."""
    return trainers.BpeTrainer(
        vocab_size=config.vocab_size,
        min_frequency=config.min_frequency,
        special_tokens=list(config.special_tokens),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        max_token_length=config.max_token_length or None,
        show_progress=show_progress,
    )


TRAIN_BATCH = 256  # pieces per list handed to the trainer


def train_tokenizer(texts: Iterable[str], config: TokenizerConfig, show_progress: bool = True) -> Tokenizer:
    """Trains on the documents `texts`; no merge spans two documents.

    The Rust trainer counts words on every core as it reads, and keeps one count per distinct
    pre-token, not the text: memory follows the variety of the sample, bounded by its size.
    """
    tokenizer = new_tokenizer()
    pieces = (piece for text in texts for piece in training_pieces(text))
    tokenizer.train_from_iterator(batched(pieces, TRAIN_BATCH), new_trainer(config, show_progress))
    tokenizer.encode_special_tokens = True
    return tokenizer
