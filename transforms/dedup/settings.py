"""Settings of deduplication (docs/dedup.md): normalisation, MinHash LSH, verification, which copy is kept."""

from __future__ import annotations

from dataclasses import dataclass

from transforms.settings import must_be_one_of, must_be_positive, setting

DEDUP_VERIFY = ("signature", "exact", "none")
# The keep rule's rank holds a source's priority in 9 bits (keep.py): the listed sources and "unlisted".
MAX_SOURCE_PRIORITIES = 511


@dataclass
class DedupConfig:
    exact: bool = setting("Drop documents whose normalised text equals another's; one per text is kept.", default=True)
    near: bool = setting(
        "Drop near-duplicates found by MinHash LSH: one document is kept per connected component of "
        "the graph of similar pairs (docs/dedup.md).",
        default=True,
    )
    lowercase: bool = setting("Normalisation: fold case (str.casefold) before hashing and shingling.", default=True)
    strip_punctuation: bool = setting(
        "Normalisation: punctuation and symbols (Unicode P*, S*) separate words like spaces.", default=True
    )
    fold_digits: bool = setting(
        "Normalisation: write every digit as 0, so texts differing only in numbers match.", default=False
    )
    ngram: int = setting("Shingles are word n-grams of the normalised text; a shorter text is one shingle.", default=5)
    num_perm: int = setting(
        "MinHash permutations (signature length): more estimate Jaccard closer and cost more.", default=128
    )
    seed: int = setting("Seed of datasketch's MinHash permutations; signatures compare only under one seed.", default=1)
    threshold: float = setting(
        "Word-n-gram Jaccard similarity from which two documents are near-duplicates.", default=0.8
    )
    bands: int = setting("LSH bands; 0 derives bands and rows from threshold and false_negative_weight.", default=0)
    rows: int = setting("LSH rows per band, given together with bands (bands * rows <= num_perm).", default=0)
    false_negative_weight: float = setting(
        "Deriving bands x rows: weight of missed pairs against false candidates (1 - this), as in "
        "datasketch's MinHashLSH; verification removes false candidates, so misses weigh more "
        "(0.9 at 0.8 and 128 permutations: 14 bands x 9 rows).",
        default=0.9,
    )
    verify: str = setting(
        "Check each LSH candidate pair before linking it: 'exact' (Jaccard of the shingle sets, "
        "from the pair's texts read back), 'signature' (estimated Jaccard of their MinHash "
        "signatures; less precise near the threshold) or 'none' (docs/dedup.md has the measurements).",
        default="exact",
    )
    source_priority: list[str] = setting(
        "Which document of a duplicate group is kept: first by source, in this order (unlisted sources "
        "after), then by length, then the first in the input (input file, then position).",
        default_factory=list,
    )
    keep_longest: bool = setting("Among equal sources keep the longest document (false: the shortest).", default=True)
    max_rounds: int = setting(
        "Connected components: rounds of large-star + small-star, unrolled in the pipeline. A job whose "
        "components have not converged by then fails, naming this setting (stats: counters "
        "cc.unsettled_after_round_NN of '(dedup graph)').",
        default=12,
    )

    def problems(self) -> list[str]:
        problems = []
        for name in ("ngram", "num_perm", "max_rounds"):
            problems += must_be_positive(f"dedup.{name}", getattr(self, name))
        if not 0 <= self.seed < 2**32:
            problems.append(f"dedup.seed: {self.seed!r} must be between 0 and 2**32 - 1")
        if not 0 < self.threshold < 1:
            problems.append(f"dedup.threshold: {self.threshold!r} must be between 0 and 1 (exclusive)")
        if not 0 <= self.false_negative_weight <= 1:
            problems.append(f"dedup.false_negative_weight: {self.false_negative_weight!r} must be between 0 and 1")
        if (self.bands > 0) != (self.rows > 0) or self.bands < 0 or self.rows < 0:
            problems.append(f"dedup.bands, dedup.rows: {self.bands!r}, {self.rows!r} must both be 0 or both > 0")
        elif self.bands * self.rows > self.num_perm:  # only where bands and rows are right themselves
            problems.append(f"dedup.bands: {self.bands!r} x rows {self.rows!r} exceeds num_perm {self.num_perm!r}")
        problems += must_be_one_of("dedup.verify", self.verify, DEDUP_VERIFY)
        if len(set(self.source_priority)) != len(self.source_priority) or not all(self.source_priority):
            problems.append(f"dedup.source_priority: {self.source_priority!r} must list source names once each")
        if len(self.source_priority) > MAX_SOURCE_PRIORITIES:
            problems.append(f"dedup.source_priority: at most {MAX_SOURCE_PRIORITIES} sources")
        return problems
