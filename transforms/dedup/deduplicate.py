"""`Deduplicate`: exact and near-duplicate removal as one Beam composite, on part files.

    part files --plan (small)--> each part's index in input order; shard size
    part files --fingerprint (read each part once)--> packed entries per shard, in an entries file
        per part (entries.py): exact: (exact key, rank, node); bands: (band key, exact key, rank, node)
    references to exact entries --group by shard; read, sort--> exact copies: (representative, copy)
    references to band entries --group by (band, shard); read, sort--> buckets
        --> candidate edges (centre, member)
    candidates --group by the two parts that hold them; read their texts back, verify--> edges
    edges --connected components (large-star / small-star rounds)--> root of each linked node
    roots + exact copies --> (member, root, kind) --group by part; read id and source back-->
        --group by root--> duplicates/*.jsonl: removed, kept, component, kind, Jaccard
                           removed rows: (part, row, counter) for the writer of docs/ (parts.WriteParts)

Text never crosses a shuffle, and no element per document does either: a node of the graph is
named by two integers (keep.py: the keep rule's rank, then its place in the input), the
fingerprints rest in files packed by shard and only references to them travel, and only
candidates, edges and the members of duplicate groups (the documents being removed and those they
are kept for) travel one by one. Whatever a step needs beyond the names (a candidate pair's texts;
a member's id, source and signature), it reads back from the part files, grouped by part. A
worker's memory is bounded by the largest group it processes (a shard's entries, a bucket, a
node's neighbours, the members of two parts or one component), not by the corpus. Only the `id`,
`source` and `text` columns of a part are read.

The root of a component is its smallest name, i.e. the document the keep rule prefers (ties: the
first in the input), so the kept document falls out of the components; `component_id` is the
smallest document id in the component, which does not depend on the keep rule.
"""

from __future__ import annotations

from typing import NamedTuple

import apache_beam as beam
import numpy as np
from apache_beam.pvalue import TaggedOutput

from transforms import outputs
from transforms.dedup.components import ConnectedComponents
from transforms.dedup.entries import (
    SHARD_DOCUMENTS,
    EntriesFile,
    by_shard,
    exact_copies,
    pack,
    read_packed,
    shard_bits,
    unpack_sorted,
)
from transforms.dedup.keep import KeepRule, Name, location_of, node_of
from transforms.dedup.lsh import band_keys, bucket_stars
from transforms.dedup.minhash import MinHasher, estimate_jaccard, exact_jaccard, lsh_bands, shingle_hashes
from transforms.dedup.normalize import Normalizer, exact_key
from transforms.dedup.settings import DedupConfig
from transforms.parts import PartFile, RemovedRow, read_part, read_part_rows
from transforms.settings import raise_problems
from transforms.stats import STATS_TAG, CountingDoFn
from transforms.writers import WriteSortedShards, jsonl_bytes

# Counts that belong to the duplicate graph rather than to a source (LSH buckets, components).
# A name with a space can never be a source (Config.problems forbids it).
GRAPH_STATS_SOURCE = "(dedup graph)"
DUPLICATES_DIR = "duplicates"
ENTRIES_DIR = "dedup_entries"  # the fingerprints' entries files, under the run's staging directory
DUPLICATES_TARGET_BYTES = 64 * 1024 * 1024
_RECORD_BYTES = 256  # about one duplicates/ line, for the number of shards
_SIGNATURE_DTYPE = "<u4"
_BANDS_TAG = "bands"
_FINGERPRINT_COLUMNS = ["id", "source", "text"]
_MEMBER_COLUMNS = ["id", "source", "text"]
# A fingerprinting worker packs its entries every this many documents: 32 bytes per entry, 15 entries each.
_PACK_DOCUMENTS = 32_768
_LOW_64 = (1 << 64) - 1


class PartPlan(NamedTuple):
    """Every part file in input order: a node's part is an index into `paths`."""

    paths: list[str]
    position: dict[str, int]  # path -> index in `paths`
    shard_bits: int  # entries are grouped by this many top bits of their key (entries.shard_bits)


def plan_parts(parts: list[PartFile]) -> PartPlan:
    paths = [part.path for part in sorted(parts)]
    documents = sum(part.rows for part in parts)
    return PartPlan(paths, {path: i for i, path in enumerate(paths)}, shard_bits(documents, SHARD_DOCUMENTS))


class Member(NamedTuple):
    """A document of a duplicate group, as its record needs it (read back from its part)."""

    name: Name
    kind: str  # "near" (a representative linked to the kept document, or the kept one), "exact"
    id: str
    source: str
    exact_key: bytes  # 16 bytes
    signature: bytes  # b"" when near-dedup is off


class DedupResult(NamedTuple):
    """What to remove, counts and graph edges; also indexable by tag: result["removed"], result[STATS_TAG]."""

    removed: beam.PCollection  # RemovedRow: each removed document's part, row and counter
    stats: beam.PCollection  # ((source, counter), n)
    edges: beam.PCollection  # (id, id): the verified near-duplicate pairs; empty unless edge_ids

    def __getitem__(self, key):
        return getattr(self, key) if isinstance(key, str) else tuple.__getitem__(self, key)


class Deduplicate(beam.PTransform):
    """PartFiles of documents in; DedupResult out; writes `staging`/duplicates/part-NNNNN.jsonl, and
    `staging`/dedup_entries/ for its own use (removed with the staging directory).

    Stats counters, per source: dedup.no_words (documents without a word are never duplicates);
    under GRAPH_STATS_SOURCE: lsh.* and cc.*. The writer of the kept documents counts
    dropped.exact_duplicate and dropped.near_duplicate from the removed rows' counters.
    `edge_ids` also returns the verified edges as pairs of ids (for evaluations: two more joins).
    """

    def __init__(self, config: DedupConfig, staging: str, edge_ids: bool = False):
        super().__init__()
        raise_problems(config.problems())
        self._config = config
        self._staging = staging
        self._edge_ids = edge_ids

    def expand(self, parts):
        config = self._config
        pipeline = parts.pipeline
        if not (config.exact or config.near):
            nothing, no_counts, no_edges = (
                pipeline | f"No {name}" >> beam.Create([]) for name in ("removals", "counts", "edges")
            )
            return DedupResult(nothing, no_counts, no_edges)
        plan = beam.pvalue.AsSingleton(
            parts | "All parts" >> beam.combiners.ToList() | "Plan parts" >> beam.Map(plan_parts)
        )
        entries = outputs.join(self._staging, ENTRIES_DIR)
        fingerprints = parts | "Fingerprint" >> beam.ParDo(_Fingerprint(config, entries), plan).with_outputs(
            STATS_TAG, _BANDS_TAG, main="exact"
        )
        copies = fingerprints.exact | "Exact duplicates" >> _ExactCopies(entries)
        measured_edges, roots, graph_stats = fingerprints[_BANDS_TAG] | "Near duplicates" >> _NearDuplicates(
            config, plan, entries
        )
        members = (roots, copies) | "Duplicate groups" >> _DescribeGroups(config, plan)
        records = (members, measured_edges) | "Duplicate records" >> _DuplicateRecords()
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
        removed = records | "Removed rows" >> beam.Map(_removed_row, plan)
        stats = (fingerprints[STATS_TAG], graph_stats) | "All dedup counts" >> beam.Flatten()
        if self._edge_ids:
            edges = (members, measured_edges) | "Edges as ids" >> _EdgeIds()
        else:
            edges = pipeline | "No edge ids" >> beam.Create([])
        return DedupResult(removed, stats, edges)


class _TextMeasures:
    """The words, exact key, signature and shingle set of a text, per a DedupConfig.

    Built in a DoFn's setup, from a MinHasher the DoFn built on the driver: building one imports
    datasketch (transforms/dedup/minhash.py says why the workers should not)."""

    def __init__(self, config: DedupConfig, minhasher: MinHasher):
        self._config = config
        self._normalizer = Normalizer(config)
        self._minhasher = minhasher

    def words(self, text: str) -> list[bytes]:
        return self._normalizer.words(text)

    def signature(self, words: list[bytes]) -> np.ndarray:
        return self._minhasher.signature(shingle_hashes(words, self._config.ngram)).astype(_SIGNATURE_DTYPE)

    def shingle_set(self, words: list[bytes]) -> np.ndarray:
        return np.unique(shingle_hashes(words, self._config.ngram))


# ---------------------------------------------------------------------------
# Fingerprints


class _Fingerprint(CountingDoFn):
    """PartFile -> its entries, packed by shard (entries.py: a large array filed in the part's entries
    file under `entries`, and only its reference travels): exact ones as (shard, packed) on the main
    output, band ones as ((band, shard), packed) on `bands`."""

    def __init__(self, config: DedupConfig, entries: str):
        self._config = config
        self._entries = entries
        self._minhasher = MinHasher(config.num_perm, config.seed)
        if config.bands:
            self._bands, self._rows = config.bands, config.rows
        else:
            self._bands, self._rows = lsh_bands(config.threshold, config.num_perm, config.false_negative_weight)

    def setup(self):
        super().setup()
        self._measures = _TextMeasures(self._config, self._minhasher)
        self._keep = KeepRule(self._config)

    def process(self, part: PartFile, plan: PartPlan):
        part_index = plan.position[part.path]
        batch: list[tuple[int, int, int, np.ndarray | None]] = []  # (rank, node, exact key, band keys)
        filed = EntriesFile(self._entries, part_index)
        travelling = []  # yielded once the file is whole
        for first, table in read_part(part.path, _FINGERPRINT_COLUMNS):
            for offset, row in enumerate(table.to_pylist()):
                words = self._measures.words(row["text"])
                if not words:
                    self.count(row["source"], "dedup.no_words")
                    continue
                keys = None
                if self._config.near:
                    keys = band_keys(self._measures.signature(words), self._bands, self._rows)
                batch.append((self._keep.rank(row), node_of(part_index, first + offset), exact_key(words), keys))
                if len(batch) == _PACK_DOCUMENTS:
                    travelling += self._pack(batch, plan.shard_bits, filed)
                    batch = []
        travelling += self._pack(batch, plan.shard_bits, filed)
        filed.close()
        yield from travelling

    def _pack(self, batch, bits: int, filed: EntriesFile) -> list:
        if not batch:
            return []
        travelling: list = []
        ranks = np.array([rank for rank, _, _, _ in batch], dtype=np.uint64)
        nodes = np.array([node for _, node, _, _ in batch], dtype=np.uint64)
        exact_high = np.array([key >> 64 for _, _, key, _ in batch], dtype=np.uint64)
        exact_low = np.array([key & _LOW_64 for _, _, key, _ in batch], dtype=np.uint64)
        if self._config.exact:
            for shard, entries in by_shard(pack(exact_high, exact_low, ranks, nodes), bits):
                travelling.append((shard, filed.packed(entries)))
        if self._config.near:
            keys = np.stack([band for _, _, _, band in batch])
            for band in range(self._bands):
                for shard, entries in by_shard(pack(keys[:, band], exact_low, ranks, nodes), bits):
                    travelling.append(TaggedOutput(_BANDS_TAG, ((band, shard), filed.packed(entries))))
        return travelling


# ---------------------------------------------------------------------------
# Exact duplicates


class _ExactCopies(beam.PTransform):
    """References to packed exact entries -> (representative, copy) names: the representative of a
    text is its smallest name; empty when exact dedup is off (then Fingerprint packs no exact entry)."""

    def __init__(self, entries: str):
        super().__init__()
        self._entries = entries

    def expand(self, exact_refs):
        entries = self._entries
        return (
            exact_refs
            | "Group by shard" >> beam.GroupByKey()
            | "Copies" >> beam.FlatMapTuple(lambda _, refs: exact_copies(unpack_sorted(read_packed(entries, refs))))
        )


# ---------------------------------------------------------------------------
# Near duplicates


class _NearDuplicates(beam.PTransform):
    """References to packed band entries -> (edges as (u, v, exact Jaccard or None), roots (node,
    root), stats).

    Empty collections when near-dedup is off (then Fingerprint packs no band entry).
    """

    def __init__(self, config: DedupConfig, plan, entries: str):
        super().__init__()
        self._config = config
        self._plan = plan  # PartPlan, a side input
        self._entries = entries

    def expand(self, band_refs):
        config = self._config
        linked = (
            band_refs
            | "Group by band and shard" >> beam.GroupByKey()
            | "Link buckets"
            >> beam.ParDo(_LinkBuckets(config.exact, self._entries)).with_outputs(STATS_TAG, main="edges")
        )
        stats = [linked[STATS_TAG]]
        if config.verify == "none":
            measured = linked.edges | "Unmeasured" >> beam.MapTuple(lambda u, v: (u, v, None))
        else:
            verified = (
                linked.edges
                | "Distinct candidates" >> beam.Distinct()
                | "Key by parts" >> beam.Map(lambda edge: (tuple(sorted(location_of(n[1])[0] for n in edge)), edge))
                | "Group by parts" >> beam.GroupByKey()
                | "Verify pairs" >> beam.ParDo(_VerifyPairs(config), self._plan).with_outputs(STATS_TAG, main="edges")
            )
            measured = verified.edges
            stats.append(verified[STATS_TAG])
        roots, component_stats = (
            measured
            | "Edges" >> beam.MapTuple(lambda u, v, _: (u, v))
            | "Connected components" >> ConnectedComponents(config.max_rounds, GRAPH_STATS_SOURCE)
        )
        stats.append(component_stats)
        return measured, roots, tuple(stats) | "Graph counts" >> beam.Flatten()


class _LinkBuckets(CountingDoFn):
    """((band, shard), references to packed entries) -> candidate edges (centre, member); see
    lsh.bucket_stars."""

    def __init__(self, skip_exact_copies: bool, entries: str):
        self._skip_exact_copies = skip_exact_copies
        self._entries = entries

    def process(self, item):
        _, refs = item
        centres = set()
        entries = unpack_sorted(read_packed(self._entries, refs))
        for centre, member in bucket_stars(entries, self._skip_exact_copies):
            centres.add(centre)
            yield centre, member
            self.count(GRAPH_STATS_SOURCE, "lsh.edges")
        if centres:
            self.count(GRAPH_STATS_SOURCE, "lsh.buckets_with_edges", len(centres))


class _VerifyPairs(CountingDoFn):
    """((part, part), candidate edges) -> (u, v, Jaccard) for the pairs at or above the threshold.

    Reads the candidates' texts back from the two parts (only the row groups that hold them) and
    compares them as configured: "exact", the Jaccard of their sets of shingle hashes (which the
    signatures estimate); "signature", the estimate of their MinHash signatures (the Jaccard is
    then None: not measured). Holds this group's candidate rows' sets, no more.
    """

    def __init__(self, config: DedupConfig):
        self._config = config
        self._minhasher = MinHasher(config.num_perm, config.seed)

    def setup(self):
        super().setup()
        self._measures = _TextMeasures(self._config, self._minhasher)

    def process(self, item, plan: PartPlan):
        _, edges = item
        rows: dict[int, set[int]] = {}
        for u, v in edges:
            for name in (u, v):
                part, row = location_of(name[1])
                rows.setdefault(part, set()).add(row)
        measure = self._measures.shingle_set if self._config.verify == "exact" else self._measures.signature
        measures = {
            node_of(part, row): measure(self._measures.words(values["text"]))
            for part, wanted in sorted(rows.items())
            for row, values in read_part_rows(plan.paths[part], wanted, ["text"]).items()
        }
        for u, v in edges:
            a, b = measures[u[1]], measures[v[1]]
            similarity = exact_jaccard(a, b) if self._config.verify == "exact" else estimate_jaccard(a, b)
            if similarity >= self._config.threshold:
                self.count(GRAPH_STATS_SOURCE, "lsh.verified_edges")
                yield u, v, similarity if self._config.verify == "exact" else None
            else:
                self.count(GRAPH_STATS_SOURCE, "lsh.rejected_pairs")


# ---------------------------------------------------------------------------
# Members of duplicate groups


class _DescribeGroups(beam.PTransform):
    """(roots, exact copies) -> (root, Member) for every document of a duplicate group, kept or not.

    A representative's root is the root of its component, or itself if it is on no edge; its
    exact copies follow it. Ids, sources and signatures are read back from the parts, grouped by part.
    """

    def __init__(self, config: DedupConfig, plan):
        super().__init__()
        self._config = config
        self._plan = plan

    def expand(self, collections):
        roots, copies = collections
        return (
            {"root": roots, "copies": copies}
            | "Join roots and copies" >> beam.CoGroupByKey()
            | "Members" >> beam.FlatMap(_members)
            | "Key by part" >> beam.Map(lambda member: (location_of(member[0][1])[0], member))
            | "Group by part" >> beam.GroupByKey()
            | "Read members" >> beam.ParDo(_ReadMembers(self._config), self._plan)
        )


def _members(item):
    """(representative, {root, copies}) -> (name, root, kind) for it and its exact copies."""
    representative, groups = item
    roots = list(groups["root"])
    root = roots[0] if roots else representative
    yield representative, root, "near"
    for copy in groups["copies"]:
        yield copy, root, "exact"


class _ReadMembers(beam.DoFn):
    """(part, [(name, root, kind)]) -> (root, Member), reading the members' rows of the part."""

    def __init__(self, config: DedupConfig):
        self._config = config
        self._minhasher = MinHasher(config.num_perm, config.seed)

    def setup(self):
        self._measures = _TextMeasures(self._config, self._minhasher)

    def process(self, item, plan: PartPlan):
        part, members = item
        members = list(members)  # at most the part's duplicates
        rows = read_part_rows(plan.paths[part], [location_of(name[1])[1] for name, _, _ in members], _MEMBER_COLUMNS)
        for name, root, kind in members:
            values = rows[location_of(name[1])[1]]
            words = self._measures.words(values["text"])
            signature = self._measures.signature(words).tobytes() if self._config.near else b""
            key = exact_key(words).to_bytes(16, "big")
            yield root, Member(name, kind, values["id"], values["source"], key, signature)


class _EdgeIds(beam.PTransform):
    """(members, measured edges) -> each edge (u, v) as (id of u, id of v)."""

    def expand(self, collections):
        members, measured_edges = collections
        ids = members | "Ids" >> beam.MapTuple(lambda _, member: (member.name, member.id))
        with_u = (
            {"id": ids, "edge": measured_edges | "By u" >> beam.MapTuple(lambda u, v, _: (u, v))}
            | "Join u" >> beam.CoGroupByKey()
            | "u id" >> beam.FlatMapTuple(lambda _, groups: [(v, next(iter(groups["id"]))) for v in groups["edge"]])
        )
        return (
            {"id": ids, "u": with_u}
            | "Join v" >> beam.CoGroupByKey()
            | "Id pairs" >> beam.FlatMapTuple(lambda _, groups: [(u, next(iter(groups["id"]))) for u in groups["u"]])
        )


# ---------------------------------------------------------------------------
# Records of removed documents


class _DuplicateRecords(beam.PTransform):
    """(members by root, measured edges) -> one record per removed document.

    Group by root: the kept document and the component's smallest id -> records.
    Join by pair: the exact Jaccard of records whose pair was verified directly.
    """

    def expand(self, collections):
        members, measured_edges = collections
        records = members | "Group by root" >> beam.GroupByKey() | "Removed documents" >> beam.FlatMap(_removed_records)
        return (
            {
                "record": records
                | "Key by pair" >> beam.Map(lambda r: (_pair_key(r["removed_name"], r["kept_name"]), r)),
                "jaccard": measured_edges
                | "Measured pairs"
                >> beam.FlatMapTuple(lambda u, v, jaccard: [] if jaccard is None else [(_pair_key(u, v), jaccard)]),
            }
            | "Join measured pairs" >> beam.CoGroupByKey()
            | "Add exact Jaccard" >> beam.FlatMap(_with_measured_jaccard)
        )


def _removed_records(item):
    """(root, members) -> one record per member but the root (the kept document).

    kind says which stage removed the member: "exact" for a copy of its text's representative,
    "near" for a representative linked to the kept document. The Jaccard figures compare it with
    the kept document: estimated from the signatures; exact where the text is the same (1.0) or
    the pair was verified directly (filled in later), else None (linked through other documents).
    """
    root, members = item
    kept: Member | None = None
    component: str | None = None
    for member in members:  # first pass: the kept member and the smallest id
        if member.name == root:
            kept = member
        component = member.id if component is None else min(component, member.id)
    assert kept is not None, f"the root {root!r} is a member of its own component"
    kept_signature = np.frombuffer(kept.signature, dtype=_SIGNATURE_DTYPE)
    for member in members:
        if member.name == root:
            continue
        same_text = member.exact_key == kept.exact_key
        yield {
            "removed_name": member.name,
            "kept_name": kept.name,
            "removed_id": member.id,
            "removed_source": member.source,
            "kept_id": kept.id,
            "kept_source": kept.source,
            "component_id": component,
            "kind": member.kind,
            "jaccard_estimate": 1.0
            if same_text
            else estimate_jaccard(np.frombuffer(member.signature, dtype=_SIGNATURE_DTYPE), kept_signature),
            "jaccard_exact": 1.0 if same_text else None,
        }


def _pair_key(a: Name, b: Name) -> tuple[Name, Name]:
    return min(a, b), max(a, b)


def _with_measured_jaccard(item):
    """The records, with the exact Jaccard of their pair where it was measured."""
    _, groups = item
    measured = next(iter(groups["jaccard"]), None)
    for record in groups["record"]:
        yield record if measured is None else {**record, "jaccard_exact": measured}


# Fields of a record that only the pipeline uses: duplicates/ holds ids, not graph names.
_PRIVATE_FIELDS = ("removed_name", "kept_name")


def _removed_row(record: dict, plan: PartPlan) -> RemovedRow:
    part, row = location_of(record["removed_name"][1])
    return RemovedRow(plan.paths[part], row, f"dropped.{record['kind']}_duplicate")


def _public(record: dict) -> dict:
    return {k: v for k, v in record.items() if k not in _PRIVATE_FIELDS}
