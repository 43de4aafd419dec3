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

import os
from dataclasses import dataclass
from typing import Callable, Iterable

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

from transforms.bpe import batched, training_pieces
from transforms.sampling import SourceWeight, source_weight_problems
from transforms.settings import ConfigError, must_be_non_negative, must_be_positive, setting


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
        "(docs/tokenizer.md; see training_memory_bytes).",
        default=1_000_000_000,
    )
    training_memory_bytes: int = setting(
        "Most memory training may take, in bytes; 0 means this machine's (or its container's limit). "
        "The run stops before any work where the sample it could draw (sample_bytes, or all the docs "
        "where they hold less) would need more at the measured rate (docs/tokenizer.md).",
        default=0,
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

    def problems(self) -> list[str]:
        """What types alone cannot check, one line per problem naming the field."""
        problems = []
        if not self.special_tokens or not all(self.special_tokens):
            problems.append(
                f"tokenizer.special_tokens: {self.special_tokens!r} must be non-empty "
                "strings, at least one (the end-of-text token)"
            )
        if len(set(self.special_tokens)) != len(self.special_tokens):
            problems.append(f"tokenizer.special_tokens: {self.special_tokens!r} has duplicates")
        smallest = 256 + len(self.special_tokens)
        if self.vocab_size < smallest:
            problems.append(
                f"tokenizer.vocab_size: {self.vocab_size!r} must be at least {smallest} "
                f"(256 bytes + {len(self.special_tokens)} special tokens)"
            )
        problems += must_be_positive("tokenizer.min_frequency", self.min_frequency)
        problems += must_be_non_negative("tokenizer.max_token_length", self.max_token_length)
        problems += must_be_positive("tokenizer.sample_bytes", self.sample_bytes)
        problems += must_be_non_negative("tokenizer.training_memory_bytes", self.training_memory_bytes)
        if not 0 <= self.heldout_fraction <= 0.5:
            problems.append(f"tokenizer.heldout_fraction: {self.heldout_fraction!r} must be between 0 and 0.5")
        problems += must_be_positive("tokenizer.heldout_bytes", self.heldout_bytes)
        return problems + source_weight_problems("tokenizer.source_weights", self.source_weights)


# Peak memory of the command while it trains, estimated as a base (the driver, with Beam and
# tokenizers loaded) and the Rust trainer's tables per byte of sample: above every peak measured on
# text with a fifth of its words replaced by random letters (0.7 GB + 9.7 per byte from 50 to 585 MB
# with 8192 tokens, 7-11% more with 32768; docs/tokenizer.md); real text repeats its words more.
TRAINING_BASE_BYTES = 1_000_000_000
TRAINING_BYTES_PER_SAMPLE_BYTE = 11


def training_memory_needed(sample_bytes: int) -> int:
    """Bytes of memory the command needs to train on `sample_bytes` of text, at the measured rate."""
    return TRAINING_BASE_BYTES + TRAINING_BYTES_PER_SAMPLE_BYTE * sample_bytes


def largest_sample_within(memory_bytes: int) -> int:
    """The largest sample, in bytes, that training_memory_needed fits into `memory_bytes`."""
    return max(0, (memory_bytes - TRAINING_BASE_BYTES) // TRAINING_BYTES_PER_SAMPLE_BYTE)


def machine_memory_bytes() -> int | None:
    """This machine's memory, or its container's limit where lower (Linux cgroup v2); None where unknown."""
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, OSError, ValueError):
        return None
    try:
        with open("/sys/fs/cgroup/memory.max") as limit:
            memory = min(memory, int(limit.read()))
    except (OSError, ValueError):  # no cgroup v2, or "max"
        pass
    return memory


def check_training_memory(config: TokenizerConfig, docs_bytes: Callable[[int], int]) -> None:
    """Raises ConfigError where training on the sample would need more memory than
    config.training_memory_bytes (0: this machine's) allows.

    docs_bytes(enough): about the bytes of text in the docs, or any figure above `enough` where
    they hold more; called only where sample_bytes alone would not fit.
    """
    budget = config.training_memory_bytes or machine_memory_bytes()
    if budget is None:
        return
    largest = largest_sample_within(budget)
    if config.sample_bytes <= largest or docs_bytes(largest) <= largest:
        return
    whose = "" if config.training_memory_bytes else ": this machine's memory"
    fits = largest // 1_000_000 * 1_000_000  # a round figure to write in the config
    remedy = f"lower sample_bytes to {fits} or less, or raise" if fits else "raise"
    raise ConfigError(
        f"tokenizer.sample_bytes: a sample of up to {config.sample_bytes / 1e6:.0f} MB needs about "
        f"{training_memory_needed(config.sample_bytes) / 1e9:.1f} GB to train ({TRAINING_BASE_BYTES / 1e9:.1f} GB "
        f"+ {TRAINING_BYTES_PER_SAMPLE_BYTE} bytes per byte of sample, docs/tokenizer.md), more than "
        f"tokenizer.training_memory_bytes allows ({budget / 1e9:.1f} GB{whose}): {remedy} training_memory_bytes"
    )


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
