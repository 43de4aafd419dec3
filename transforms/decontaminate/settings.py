"""The `decontaminate` section: which benchmarks to look for in the corpus, and what to do on a hit."""

from __future__ import annotations

from dataclasses import dataclass

from transforms.settings import must_be_one_of, must_be_positive, setting

MODES = ("drop", "redact")
# An item of fewer words than this is no evidence of anything ("the", "yes it is"): it is not
# indexed, only counted (items_skipped in decontamination.json).
MIN_MATCHED_WORDS = 3
HF_PREFIX = "hf="  # a benchmark path naming a datasets dataset: hf=DIR


@dataclass
class BenchmarkSpec:
    name: str = setting("Benchmark name: the start of its item ids (NAME:PATH:ROW) and its key in the reports.")
    path: str = setting(
        "Its files: a glob on any Beam filesystem (JSON lines, also .gz/.zst, Parquet, Arrow or plain "
        "UTF-8 text, one item per line, row or blank-line-separated paragraph), a directory (every file "
        "below it), or hf=DIR: a datasets dataset (transforms/datasets_input.py). Each file's start is "
        "checked before any work: one that cannot be read as what it is stops the command, in one line."
    )
    text_fields: list[str] = setting(
        "JSONL keys / Parquet or Arrow columns that hold an item's text, joined with a space in this "
        "order (a list value's strings in turn); each must be in the schema, or in a JSONL file's first "
        "record. Empty: every string or list-of-strings field in record order, but id-like ones (id, "
        "idx, uuid, guid, *_id, *_idx, *_uuid). Not read for plain text.",
        default_factory=list,
    )

    def problems(self, where: str) -> list[str]:
        problems = []
        if not self.name or any(c in self.name for c in ":/=. "):
            problems.append(f"{where}.name: {self.name!r} must be non-empty without ':', '/', '=', '.' or spaces")
        if not self.path or self.path == HF_PREFIX:
            problems.append(f"{where}.path: must not be empty")
        return problems


@dataclass
class DecontaminateConfig:
    benchmarks: list[BenchmarkSpec] = setting(
        "Benchmarks whose items must not be in the training data; none: no decontamination "
        "(docs/decontamination.md). --decontaminate NAME=GLOB adds one with every text field.",
        default_factory=list,
    )
    ngram: int = setting(
        "An item of at least this many words is found in a document that shares one run of this many "
        "words with it, after normalisation (NFKC, case folded, words are runs of letters, digits and "
        "_); a shorter item only where the document holds all its words in a row; one of under 3 words "
        "is not looked for (items_skipped).",
        default=13,
    )
    mode: str = setting(
        "drop: a document holding an item is left out; redact: each matching run is cut out with "
        "200 characters either side, and the document is dropped where that takes more than 10 cuts.",
        default="drop",
    )
    min_item_words: int = setting(
        "A reporting threshold, no matching one: items of fewer words are counted as items_short, "
        "because a short phrase matched whole can be common text (docs/decontamination.md).",
        default=8,
    )
    index_memory_bytes: int = setting(
        "Most bytes of the n-gram index a worker process holds (its threads share it; 18 bytes per "
        "n-gram of an item): past it the index is cut by hash range into partitions, checked in turn, "
        "each document read once per partition. 1 GiB holds about 60 million n-grams, a benchmark "
        "suite of 1 million long items.",
        default=1024**3,
    )
    docs: str = setting(
        "textshards decontaminate: the docs directory of prepare to read (--docs DIR/docs); prepare ignores it.",
        default="",
    )

    def problems(self) -> list[str]:
        problems = []
        for i, spec in enumerate(self.benchmarks):
            problems += spec.problems(f"decontaminate.benchmarks[{i}]")
            if spec.name in (earlier.name for earlier in self.benchmarks[:i]):
                problems.append(f"decontaminate.benchmarks[{i}].name: {spec.name!r} names an earlier benchmark too")
        if self.ngram < MIN_MATCHED_WORDS:
            problems.append(f"decontaminate.ngram: {self.ngram!r} must be >= {MIN_MATCHED_WORDS}")
        return (
            problems
            + must_be_one_of("decontaminate.mode", self.mode, MODES)
            + must_be_positive("decontaminate.min_item_words", self.min_item_words)
            + must_be_positive("decontaminate.index_memory_bytes", self.index_memory_bytes)
        )
