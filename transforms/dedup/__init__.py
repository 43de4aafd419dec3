"""Deduplication: exact (normalised-text hash) and near (MinHash LSH + connected components).

    settings.py    - DedupConfig: normalisation, MinHash LSH, verification and keep-rule settings
    normalize.py   - the words of a text with case, punctuation and spacing folded; exact key
    minhash.py     - shingle hashes and datasketch-identical MinHash signatures, fast
    entries.py     - packed per-document entries (keys, rank, node): by shard, sorted, exact copies
    lsh.py         - band keys, and a bucket's sorted entries to candidate edges
    components.py  - connected components in Beam (large-star / small-star rounds)
    keep.py        - the keep rule as a sortable rank; a document's place in the input
    deduplicate.py - `Deduplicate`, the composite PTransform that wires them

Design and measurements: docs/dedup.md.
"""

from transforms.dedup.deduplicate import DUPLICATES_DIR, GRAPH_STATS_SOURCE, Deduplicate, DedupResult

__all__ = ["DUPLICATES_DIR", "GRAPH_STATS_SOURCE", "Deduplicate", "DedupResult"]
