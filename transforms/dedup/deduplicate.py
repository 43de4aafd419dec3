"""`Deduplicate`: exact and near-duplicate removal as one Beam composite, on part files.

    part files --fingerprint (read each part once)--> nodes: rank (keep rule), source, exact key,
                                                       MinHash signature, location (part, row)
    nodes --group by exact key--> one representative per normalised text, + its exact copies
    representatives --group by LSH band key--> buckets --verify--> edges of the duplicate graph
        (exact verification: candidate pairs grouped by the two parts that hold them; each group
         reads its rows' texts back from those parts and measures the shingle sets' Jaccard)
    edges --connected components (large-star / small-star rounds)--> root of each linked node
    representatives + roots + exact copies --group by representative, then by root-->
        duplicates/*.jsonl: removed, kept, component, kind, Jaccard
        removed rows: (part, row, counter) for the writer of docs/ (transforms/parts.WriteParts)

Text never crosses a shuffle: every grouping is a GroupByKey of nodes, keys, edges or locations
(a part file's base name and a row; the names must be unique, as prepare's are),
on a per-text, per-bucket, per-component or per-part-pair key, so no worker holds an index, all
signatures or all edges; a worker's memory is bounded by the largest group it processes (a
bucket's misfits, a node's neighbours, the candidate rows of two parts), not by the corpus. Only
the `id`, `source` and `text` columns of a part are read, and ids must be unique (prepare's are).

The root of a component is its smallest rank, i.e. the document the keep rule prefers, so the kept
document falls out of the components; `component_id` is the smallest document id in the component,
which does not depend on the keep rule.
"""

from __future__ import annotations

from typing import NamedTuple

import apache_beam as beam
import numpy as np
from apache_beam.pvalue import TaggedOutput

from transforms import outputs
from transforms.dedup.components import ConnectedComponents
from transforms.dedup.keep import KeepRule, id_of
from transforms.dedup.lsh import band_keys, bucket_edges
from transforms.dedup.minhash import MinHasher, estimate_jaccard, exact_jaccard, lsh_bands, shingle_hashes
from transforms.dedup.normalize import Normalizer, exact_key
from transforms.dedup.settings import DedupConfig
from transforms.parts import PartFile, RemovedRow, read_part, read_part_rows
from transforms.records import Document
from transforms.stats import STATS_TAG, CountingDoFn
from transforms.writers import WriteSortedShards, jsonl_bytes

# Counts that belong to the duplicate graph rather than to a source (LSH buckets, components).
# A name with a space can never be a source (Config.validate forbids it).
GRAPH_STATS_SOURCE = "(dedup graph)"
DUPLICATES_DIR = "duplicates"
DUPLICATES_TARGET_BYTES = 64 * 1024 * 1024
_RECORD_BYTES = 256  # about one duplicates/ line, for the number of shards
_SIGNATURE_DTYPE = "<u4"
_EXACT_TAG = "exact"
_FINGERPRINT_COLUMNS = ["id", "source", "text"]

# (part file's base name, row): where a node's text can be read back. The base name, not the path,
# because a location travels with every node and band member: part files' names must be unique.
Location = tuple[str, int]


def part_name(path: str) -> str:
    return path.rsplit("/", 1)[-1]


class Node(NamedTuple):
    """A document as the duplicate graph sees it."""

    rank: str  # keep-rule order, ends with the id (keep.py)
    source: str
    exact_key: str  # hash of the normalised text
    signature: bytes  # MinHash, num_perm little-endian uint32; b"" when near-dedup is off
    location: Location


class DedupResult(NamedTuple):
    """What to remove, counts and graph edges; also indexable by tag: result["removed"], result[STATS_TAG]."""

    removed: beam.PCollection  # RemovedRow: each removed document's part, row and counter
    stats: beam.PCollection  # ((source, counter), n)
    edges: beam.PCollection  # (id, id): the verified near-duplicate pairs the components were built from

    def __getitem__(self, key):
        return getattr(self, key) if isinstance(key, str) else tuple.__getitem__(self, key)


class Deduplicate(beam.PTransform):
    """PartFiles of documents in; DedupResult out; writes `staging`/duplicates/part-NNNNN.jsonl.

    Stats counters, per source: dedup.no_words (documents without a word are never duplicates);
    under GRAPH_STATS_SOURCE: lsh.* and cc.*. The writer of the kept documents counts
    dropped.exact_duplicate and dropped.near_duplicate from the removed rows' counters.
    """

    def __init__(self, config: DedupConfig, staging: str):
        super().__init__()
        config.validate()
        self._config = config
        self._staging = staging

    def expand(self, parts):
        config = self._config
        pipeline = parts.pipeline
        if not (config.exact or config.near):
            nothing, no_counts, no_edges = (
                pipeline | f"No {name}" >> beam.Create([]) for name in ("removals", "counts", "edges")
            )
            return DedupResult(nothing, no_counts, no_edges)
        part_paths = beam.pvalue.AsDict(
            parts | "Part names" >> beam.Map(lambda part: (part_name(part.path), part.path))
        )
        fingerprints = parts | "Fingerprint" >> beam.ParDo(_Fingerprint(config)).with_outputs(STATS_TAG, main="nodes")
        representatives, exact_copies = fingerprints.nodes | "Exact duplicates" >> _ExactDuplicates(config.exact)
        measured_edges, roots, graph_stats = representatives | "Near duplicates" >> _NearDuplicates(config, part_paths)
        records = (representatives, roots, exact_copies, measured_edges) | "Duplicate records" >> _DuplicateRecords()
        _ = (
            records
            | "Public records" >> beam.Map(_public)
            | "Write duplicates"
            >> WriteSortedShards(
                directory=outputs.join(self._staging, DUPLICATES_DIR),
                suffix="jsonl",
                key=lambda record: record["removed_id"],
                size=lambda record: _RECORD_BYTES,
                target_bytes=DUPLICATES_TARGET_BYTES,
                encode=jsonl_bytes,
            )
        )
        removed = records | "Removed rows" >> beam.Map(_removed_row, part_paths)
        stats = (fingerprints[STATS_TAG], graph_stats) | "All dedup counts" >> beam.Flatten()
        edge_ids = measured_edges | "Edges as ids" >> beam.MapTuple(lambda u, v, _: (id_of(u), id_of(v)))
        return DedupResult(removed, stats, edge_ids)


# ---------------------------------------------------------------------------
# Fingerprints


class _Fingerprint(CountingDoFn):
    """PartFile -> a Node per document of the part."""

    progress_label = "documents"

    def __init__(self, config: DedupConfig):
        self._config = config

    def setup(self):
        super().setup()
        self._normalizer = Normalizer(self._config)
        self._minhasher = MinHasher(self._config.num_perm, self._config.seed)
        self._keep = KeepRule(self._config)

    def process(self, part: PartFile):
        for first, table in read_part(part.path, _FINGERPRINT_COLUMNS):
            for offset, row in enumerate(table.to_pylist()):
                node = self._node(row, (part_name(part.path), first + offset))
                if node is not None:
                    yield node

    def _node(self, row: Document, location: Location) -> Node | None:
        config = self._config
        self.note_progress(len(row["text"]))
        words = self._normalizer.words(row["text"])
        if not words:
            self.count(row["source"], "dedup.no_words")
            return None
        signature = b""
        if config.near:
            signature = (
                self._minhasher.signature(shingle_hashes(words, config.ngram)).astype(_SIGNATURE_DTYPE).tobytes()
            )
        return Node(self._keep.rank(row), row["source"], exact_key(words), signature, location)


# ---------------------------------------------------------------------------
# Exact duplicates


class _ExactDuplicates(beam.PTransform):
    """Nodes -> (representatives, exact copies as (representative rank, node)); all representatives if off."""

    def __init__(self, enabled: bool):
        super().__init__()
        self._enabled = enabled

    def expand(self, nodes):
        if not self._enabled:
            return nodes, nodes.pipeline | "No exact copies" >> beam.Create([])
        groups = (
            nodes
            | "Key by exact key" >> beam.Map(lambda node: (node.exact_key, node))
            | "Group by exact key" >> beam.GroupByKey()
            | "Pick representatives"
            >> beam.ParDo(_PickRepresentative()).with_outputs(_EXACT_TAG, main="representatives")
        )
        return groups.representatives, groups[_EXACT_TAG]


class _PickRepresentative(beam.DoFn):
    """(exact key, nodes) -> the smallest-ranked node; the others as (its rank, node) on `exact`.

    Two passes over the group and nothing held: a million copies of one page stream through.
    """

    def process(self, item):
        _, nodes = item
        representative = min(nodes, key=_rank)
        yield representative
        for node in nodes:
            if node.rank != representative.rank:
                yield TaggedOutput(_EXACT_TAG, (representative.rank, node))


# ---------------------------------------------------------------------------
# Near duplicates


class _NearDuplicates(beam.PTransform):
    """Representatives -> (edges as (u, v, exact Jaccard or None), roots (node, root), stats).

    Empty collections when near-dedup is off.
    """

    def __init__(self, config: DedupConfig, part_paths):
        super().__init__()
        self._config = config
        self._part_paths = part_paths  # {part name: path}, a side input
        if config.bands:
            self._bands, self._rows = config.bands, config.rows
        else:
            self._bands, self._rows = lsh_bands(config.threshold, config.num_perm, config.false_negative_weight)

    def expand(self, representatives):
        config = self._config
        if not config.near:
            pipeline = representatives.pipeline
            return tuple(pipeline | f"No {name}" >> beam.Create([]) for name in ("edges", "roots", "counts"))
        linked = (
            representatives
            | "Band keys" >> beam.FlatMap(_band_members, self._bands, self._rows, config.verify == "signature")
            | "Group by band key" >> beam.GroupByKey()
            | "Link buckets"
            >> beam.ParDo(_LinkBucket(config.verify, config.threshold)).with_outputs(STATS_TAG, main="edges")
        )
        stats = [linked[STATS_TAG]]
        if config.verify == "exact":
            verified = (
                linked.edges
                | "Distinct candidates" >> beam.Distinct()
                | "Key by parts" >> beam.Map(lambda edge: (tuple(sorted((edge[2][0], edge[3][0]))), edge))
                | "Group by parts" >> beam.GroupByKey()
                | "Exact Jaccard"
                >> beam.ParDo(_MeasurePairs(config), self._part_paths).with_outputs(STATS_TAG, main="edges")
            )
            measured = verified.edges
            stats.append(verified[STATS_TAG])
        else:
            measured = linked.edges | "Unmeasured" >> beam.Map(lambda edge: (edge[0], edge[1], None))
        roots, component_stats = (
            measured
            | "Edges" >> beam.MapTuple(lambda u, v, _: (u, v))
            | "Connected components" >> ConnectedComponents(config.max_rounds, GRAPH_STATS_SOURCE)
        )
        stats.append(component_stats)
        return measured, roots, tuple(stats) | "Graph counts" >> beam.Flatten()


def _band_members(node: Node, bands: int, rows: int, with_signature: bool):
    """(band key, member) per band; a member is (rank, location) or (rank, location, signature)."""
    signature = np.frombuffer(node.signature, dtype=_SIGNATURE_DTYPE)
    member = (node.rank, node.location) + ((node.signature,) if with_signature else ())
    return [(key, member) for key in band_keys(signature, bands, rows)]


class _LinkBucket(CountingDoFn):
    """(band key, members) -> edges (centre rank, member rank, centre location, member location);
    see lsh.bucket_edges.

    verify "signature" links members whose estimated Jaccard reaches the threshold; "none" and
    "exact" (checked after this step) link every member to the bucket's centre.
    """

    def __init__(self, verify: str, threshold: float):
        self._verify = verify
        self._threshold = threshold

    def process(self, item):
        _, members = item
        similar = self._similar_signatures if self._verify == "signature" else _always
        edges = 0
        for centre, member in bucket_edges(members, similar):
            edges += 1
            yield centre[0], member[0], centre[1], member[1]
        if edges:
            self.count(GRAPH_STATS_SOURCE, "lsh.buckets_with_edges")
            self.count(GRAPH_STATS_SOURCE, "lsh.edges", edges)

    def _similar_signatures(self, a, b) -> bool:
        estimate = estimate_jaccard(
            np.frombuffer(a[2], dtype=_SIGNATURE_DTYPE), np.frombuffer(b[2], dtype=_SIGNATURE_DTYPE)
        )
        if estimate >= self._threshold:
            return True
        self.count(GRAPH_STATS_SOURCE, "lsh.rejected_pairs")
        return False


def _always(a, b) -> bool:
    return True


class _MeasurePairs(CountingDoFn):
    """((part, part), candidate edges) -> (u, v, exact Jaccard) for the pairs at or above the threshold.

    Reads the candidates' texts back from the two parts (only the row groups that hold them) and
    compares their sets of shingle hashes, as the signatures estimate them; holds the sets of
    this group's candidate rows, no more.
    """

    def __init__(self, config: DedupConfig):
        self._config = config

    def setup(self):
        super().setup()
        self._normalizer = Normalizer(self._config)

    def process(self, item, part_paths: dict[str, str]):
        _, edges = item
        rows: dict[str, set[int]] = {}
        for _u, _v, (u_part, u_row), (v_part, v_row) in edges:
            rows.setdefault(u_part, set()).add(u_row)
            rows.setdefault(v_part, set()).add(v_row)
        shingles = {
            (part, row): self._shingle_set(values["text"])
            for part, wanted in sorted(rows.items())
            for row, values in read_part_rows(part_paths[part], wanted, ["text"]).items()
        }
        for u, v, u_location, v_location in edges:
            jaccard = exact_jaccard(shingles[u_location], shingles[v_location])
            if jaccard >= self._config.threshold:
                self.count(GRAPH_STATS_SOURCE, "lsh.verified_edges")
                yield u, v, jaccard
            else:
                self.count(GRAPH_STATS_SOURCE, "lsh.rejected_pairs")

    def _shingle_set(self, text: str) -> np.ndarray:
        return np.unique(shingle_hashes(self._normalizer.words(text), self._config.ngram))


# ---------------------------------------------------------------------------
# Records of removed documents


class _DuplicateRecords(beam.PTransform):
    """(representatives, roots, exact copies, measured edges) -> one record per removed document.

    Group 1, by representative: its root (if on an edge) and its exact copies -> (root, member).
    Group 2, by root: the kept document and the component's smallest id -> records.
    Join 3, by pair: the exact Jaccard of records whose pair was verified directly.
    """

    def expand(self, collections):
        representatives, roots, exact_copies, measured_edges = collections
        records = (
            {
                "node": representatives | "Key representatives" >> beam.Map(lambda node: (node.rank, node)),
                "root": roots,
                "exact": exact_copies,
            }
            | "Join roots and copies" >> beam.CoGroupByKey()
            | "Members by root" >> beam.FlatMap(_members_by_root)
            | "Group by root" >> beam.GroupByKey()
            | "Removed documents" >> beam.FlatMap(_removed_records)
        )
        return (
            {
                "record": records
                | "Key by pair" >> beam.Map(lambda r: (_pair_key(r["removed_rank"], r["kept_rank"]), r)),
                "jaccard": measured_edges
                | "Measured pairs"
                >> beam.FlatMapTuple(lambda u, v, jaccard: [] if jaccard is None else [(_pair_key(u, v), jaccard)]),
            }
            | "Join measured pairs" >> beam.CoGroupByKey()
            | "Add exact Jaccard" >> beam.FlatMap(_with_measured_jaccard)
        )


def _members_by_root(item):
    """Per representative: (root, (node, kind)) for it and its exact copies, if it has any duplicate."""
    _, groups = item
    roots = list(groups["root"])
    copies = groups["exact"]
    for representative in groups["node"]:  # exactly one
        if roots or next(iter(copies), None) is not None:  # else unique: nothing to shuffle
            root = roots[0] if roots else representative.rank
            yield root, (representative, "near")
            for copy in copies:
                yield root, (copy, "exact")


def _removed_records(item):
    """(root, members) -> one record per member but the root (the kept document).

    kind says which stage removed the member: "exact" for a copy of its text's representative,
    "near" for a representative linked to the kept document. The Jaccard figures compare it with
    the kept document: estimated from the signatures; exact where the text is the same (1.0) or
    the pair was verified directly (filled in later), else None (linked through other documents).
    """
    root, members = item
    kept: Node | None = None
    component: str | None = None
    for node, _ in members:  # first pass: the kept node and the smallest id
        if node.rank == root:
            kept = node
        node_id = id_of(node.rank)
        component = node_id if component is None else min(component, node_id)
    assert kept is not None, f"the root {root!r} is a member of its own component"
    kept_signature = np.frombuffer(kept.signature, dtype=_SIGNATURE_DTYPE)
    for node, kind in members:
        if node.rank == root:
            continue
        same_text = node.exact_key == kept.exact_key
        yield {
            "removed_rank": node.rank,
            "kept_rank": kept.rank,
            "removed_location": node.location,
            "removed_id": id_of(node.rank),
            "removed_source": node.source,
            "kept_id": id_of(kept.rank),
            "kept_source": kept.source,
            "component_id": component,
            "kind": kind,
            "jaccard_estimate": 1.0
            if same_text
            else estimate_jaccard(np.frombuffer(node.signature, dtype=_SIGNATURE_DTYPE), kept_signature),
            "jaccard_exact": 1.0 if same_text else None,
        }


def _pair_key(a: str, b: str) -> str:
    return f"{min(a, b)}\0{max(a, b)}"


def _with_measured_jaccard(item):
    """The records, with the exact Jaccard of their pair where it was measured."""
    _, groups = item
    measured = next(iter(groups["jaccard"]), None)
    for record in groups["record"]:
        yield record if measured is None else {**record, "jaccard_exact": measured}


# Fields of a record that only the pipeline uses: duplicates/ holds ids, not ranks or part files.
_PRIVATE_FIELDS = ("removed_rank", "kept_rank", "removed_location")


def _removed_row(record: dict, part_paths: dict[str, str]) -> RemovedRow:
    part, row = record["removed_location"]
    return RemovedRow(part_paths[part], row, f"dropped.{record['kind']}_duplicate")


def _public(record: dict) -> dict:
    return {k: v for k, v in record.items() if k not in _PRIVATE_FIELDS}


def _rank(node: Node) -> str:
    return node.rank
