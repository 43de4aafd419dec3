"""Part files and the per-document stage: where prepare's documents rest between stages, and how
they are planned, written back in order and counted."""

import json
import math
from collections import defaultdict
from pathlib import Path

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from tests.helpers import IN_MEMORY
from transforms.clean import CleanConfig
from transforms.document_stage import (
    MAX_FILES_PER_PART,
    MIN_PART_BYTES,
    MIN_PARTS,
    InputPart,
    ProcessParts,
    balanced_part_bytes,
    id_entries_by_shard,
    plan_input_parts,
    repeated_positions,
    split_large_part,
)
from transforms.filters.stage import FiltersConfig, SourceSteps
from transforms.parts import (
    PART_ROW_GROUP_BYTES,
    ParquetPartWriter,
    PartFile,
    RemovedRow,
    WriteParts,
    plan_shards,
    read_part,
    read_part_rows,
)
from transforms.progress import Progress, ProgressReport, read_reports
from transforms.readers import FileRange, InputSpec, ReadConfig, read_file, read_range
from transforms.records import ReadError
from transforms.repeated_ids import repeats_by_part, unpack
from transforms.writers import DOCS_SCHEMA


def _doc(i: int, text: str = "", source: str = "web") -> dict:
    return {"id": f"{source}:f:{i}", "source": source, "text": text or f"document {i} " * 3}


def _write_part(path: Path, rows: list[dict]) -> PartFile:
    writer = ParquetPartWriter(str(path), DOCS_SCHEMA)
    for row in rows:
        writer.append(row)
    written = writer.close()
    assert written is not None
    return written


def test_part_writer_streams_row_groups_and_reads_back_any_row(tmp_path):
    big = "x" * (PART_ROW_GROUP_BYTES // 3 + 1)  # three of them fill a row group
    rows = [_doc(i, big if i % 2 else "") for i in range(8)]
    part = _write_part(tmp_path / "p.parquet", rows)
    assert part.bytes == sum(len(row["text"]) for row in rows)
    groups = list(read_part(part.path, ["id"]))
    assert len(groups) > 1 and [first for first, _ in groups] == sorted(first for first, _ in groups)
    assert [i for _, table in groups for i in table.column("id").to_pylist()] == [row["id"] for row in rows]
    found = read_part_rows(part.path, [7, 0, 5], ["id"])
    assert found == {0: {"id": "web:f:0"}, 5: {"id": "web:f:5"}, 7: {"id": "web:f:7"}}
    assert not list(tmp_path.glob("*.tmp-*"))  # written under a temporary name, then renamed


def test_row_groups_depend_on_the_rows_alone_not_on_how_they_were_handed_over(tmp_path):
    third = "y" * (PART_ROW_GROUP_BYTES // 3)
    rows = [_doc(i, third if i % 3 else "short") for i in range(20)]
    one_by_one = _write_part(tmp_path / "rows.parquet", rows)
    as_tables = ParquetPartWriter(str(tmp_path / "tables.parquet"), DOCS_SCHEMA)
    table = pa.Table.from_pylist(rows, schema=DOCS_SCHEMA)
    as_tables.append(rows[0])
    for start, stop in [(1, 4), (4, 5), (5, 13), (13, 20)]:
        as_tables.append_table(table.slice(start, stop - start))
    written = as_tables.close()
    assert written is not None and written.bytes == one_by_one.bytes
    assert Path(written.path).read_bytes() == Path(one_by_one.path).read_bytes()
    assert pq.ParquetFile(written.path).num_row_groups > 3


def test_a_writer_without_rows_leaves_no_file(tmp_path):
    assert ParquetPartWriter(str(tmp_path / "none.parquet"), DOCS_SCHEMA).close() is None
    assert not list(tmp_path.iterdir())


def test_shards_are_runs_of_consecutive_parts_of_about_the_target():
    parts = [PartFile((f"f{i}", 0, "s"), f"p{i}", size) for i, size in enumerate([40, 40, 40, 200, 10, 10])]
    assert plan_shards(list(reversed(parts)), 100) == {"p0": 0, "p1": 0, "p2": 1, "p3": 2, "p4": 3, "p5": 3}
    assert plan_shards([], 100) == {}


def test_input_parts_batch_small_files_and_keep_large_ones_alone():
    spec = InputSpec(name="web", glob="*")
    files = [("c", 10), ("a", 30), ("b", 30), ("d", 500), ("e", 5)]
    parts = plan_input_parts(spec, files, 64)
    assert [[r.path for r in part.ranges] for part in parts] == [["a", "b"], ["c"], ["d"], ["e"]]
    assert len({part.name() for part in parts}) == len(parts)
    assert [part.order() for part in parts] == sorted(part.order() for part in parts)
    many = plan_input_parts(spec, [(f"f{i:03d}", 1) for i in range(40)], 64)
    assert [len(part.ranges) for part in many] == [MAX_FILES_PER_PART, MAX_FILES_PER_PART, 8]


def test_a_large_file_becomes_one_part_per_range(tmp_path):
    path = tmp_path / "big.jsonl"
    path.write_text("".join(json.dumps({"text": f"line {i} " * 10}) + "\n" for i in range(50)))
    spec, config = InputSpec(name="j", glob=str(path)), ReadConfig(split_bytes=500)
    (part,) = plan_input_parts(spec, [(str(path), path.stat().st_size)], config.split_bytes)
    pieces = split_large_part(part, config)
    assert len(pieces) > 3 and [p.ranges[0].start for p in pieces] == sorted(p.ranges[0].start for p in pieces)
    # Progress lines count the file's bytes as stored, shared out among its ranges.
    assert part.stored_bytes == path.stat().st_size == sum(p.stored_bytes for p in pieces)
    batch = InputPart(spec, (FileRange("a"), FileRange("b")))
    assert split_large_part(batch, config) == [batch]  # a batch of small files is never split


def test_a_file_is_split_into_ranges_of_even_size(tmp_path):
    """A file of 2.2 times split_bytes is three ranges of about 0.73 each, not two full ones and
    a fifth: ranges of one size finish together on workers that take them in turn."""
    path = tmp_path / "big.jsonl"
    path.write_text("".join(json.dumps({"text": f"line {i:04d}"}) + "\n" for i in range(1000)))
    size = path.stat().st_size
    spec = InputSpec(name="j", glob=str(path))
    (part,) = plan_input_parts(spec, [(str(path), size)], size)
    pieces = split_large_part(part, ReadConfig(split_bytes=int(size / 2.2)))
    lengths = [(p.ranges[0].stop or size) - p.ranges[0].start for p in pieces]
    line_bytes = len(json.dumps({"text": "line 0000"})) + 1
    # Each range ends at the first line end after its even share, so they differ by a line or two.
    assert len(lengths) == 3 and max(lengths) - min(lengths) <= 2 * line_bytes


def test_a_small_corpus_is_cut_into_enough_parts_for_every_core():
    mib = 1024 * 1024
    assert balanced_part_bytes(50 * mib, 16 * mib) == math.ceil(50 * mib / MIN_PARTS)  # 8 parts, not 4
    assert balanced_part_bytes(4000 * mib, 16 * mib) == 16 * mib  # a large corpus: split_bytes
    assert balanced_part_bytes(10 * mib, 16 * mib) == MIN_PART_BYTES  # never below MIN_PART_BYTES...
    assert balanced_part_bytes(10 * mib, mib) == mib  # ... unless split_bytes asks for smaller ones


def _repeated_ids_by_part(
    parts: list[InputPart], read: ReadConfig, shard_bits: int, progress: ProgressReport | None = None
) -> dict[int, list[bytes]]:
    """FindRepeatedIds without Beam: each part's entries grouped by shard, as its GroupByKey
    groups them, then each shard's repeats by part."""
    shards = defaultdict(list)
    for part in parts:
        for shard, packed in id_entries_by_shard(part, read, shard_bits, progress or ProgressReport(None)):
            shards[shard].append(packed)
    by_part = defaultdict(list)
    for packed in shards.values():
        for key, repeated in repeats_by_part(unpack(packed)):
            by_part[key].append(repeated)
    return by_part


def _read_parts(parts: list[InputPart], read: ReadConfig, shard_bits: int) -> list:
    """The items of every part, each range read with the repeated ids found across all of them."""
    found = _repeated_ids_by_part(parts, read, shard_bits)
    items = []
    for part in parts:
        repeated = repeated_positions(found.get(part.key(), []))
        for file, piece in enumerate(part.ranges):
            items += read_range(part.spec, piece, read, repeated.get(file, frozenset()))
    return items


@pytest.mark.parametrize("shard_bits", [0, 3])
def test_a_jsonl_file_with_own_ids_read_in_ranges_gives_the_items_of_reading_it_whole(tmp_path, shard_bits):
    path = tmp_path / "docs.jsonl"
    records = [{"id": f"d{i % 23}", "text": f"Document {i} has a few words."} for i in range(60)]  # repeats far apart
    records[5] = {"id": "d4", "text": "the same id as the line before: a repeat within one range"}
    records[6] = {"id": "e", "text": ""}  # empty: a dead letter, and its id is not taken
    records[7] = {"id": "e", "text": "the first readable record with id e is kept"}
    records[8] = {"id": 7, "text": "an integer id reads as its decimal string"}
    records[40] = {"id": "7", "text": "the string '7' repeats the integer 7"}
    records[41] = {"text": "no id"}
    path.write_text("".join(json.dumps(record) + "\n" for record in records))
    spec, read = InputSpec(name="src", glob=str(path)), ReadConfig(id_field="id", split_bytes=400)
    parts = split_large_part(InputPart(spec, (FileRange(str(path)),), path.stat().st_size), read)
    assert len(parts) > 3
    whole = list(read_file(spec, str(path), read))
    assert _read_parts(parts, read, shard_bits) == whole
    # the pass over the ids reports the file and its bytes, each once, as the main pass does
    _repeated_ids_by_part(parts, read, shard_bits, ProgressReport(str(tmp_path / "progress")))
    assert read_reports(str(tmp_path / "progress")) == Progress(1, path.stat().st_size)
    repeated = [item.position for item in whole if isinstance(item, ReadError) and item.error == "duplicate_id"]
    # 1-based lines. Lines 29-32 hold the first d5-d8 (lines 6-9 were given other ids); 42 has no id.
    assert repeated == [6, *range(24, 29), *range(33, 42), *range(43, 61)]
    assert [item.error for item in whole if isinstance(item, ReadError) and item.position in (7, 42)] == [
        "empty_document",
        "missing_id",
    ]


def test_parquet_with_own_ids_read_in_ranges_and_a_batch_of_files_with_the_same_ids(tmp_path):
    rows = 50
    pq.write_table(
        pa.table({"text": [f"row {i}" for i in range(rows)], "key": [f"k{i % 20}" for i in range(rows)]}),
        tmp_path / "big.parquet",
        row_group_size=10,
    )
    spec, read = InputSpec(name="src", glob=str(tmp_path / "*")), ReadConfig(id_field="key", split_bytes=100)
    big = tmp_path / "big.parquet"
    parts = split_large_part(InputPart(spec, (FileRange(str(big)),), big.stat().st_size), read)
    assert len(parts) == 5
    whole = list(read_file(spec, str(big), read))
    assert _read_parts(parts, read, shard_bits=1) == whole
    assert [item.position for item in whole if isinstance(item, ReadError)] == list(range(20, 50))
    # Two small files of one part: the same id in each is no repeat; the second's own repeat is found.
    for name, keys in (("a.parquet", ["x", "y"]), ("b.parquet", ["x", "x"])):
        pq.write_table(pa.table({"text": ["one", "two"], "key": keys}), tmp_path / name)
    batch = InputPart(spec, (FileRange(str(tmp_path / "a.parquet")), FileRange(str(tmp_path / "b.parquet"))))
    assert repeated_positions(_repeated_ids_by_part([batch], read, 0)[batch.key()]) == {1: frozenset({1})}


def _process(part: InputPart, read: ReadConfig, parts_dir: Path) -> tuple[list, dict]:
    filters = FiltersConfig(sources=[SourceSteps(source=part.spec.name, steps=[])])
    dofn = ProcessParts(read, CleanConfig(), filters, str(parts_dir), ProgressReport(None))
    dofn.setup()
    dofn.start_bundle()
    outputs = list(dofn.process((part.key(), {"part": [part], "repeated": []})))
    counts = {}
    for tagged in dofn.finish_bundle():
        (_, counter), n = tagged.value.value
        counts[counter] = n
    return outputs, counts


def test_one_file_read_in_ranges_gives_the_rows_and_counts_of_reading_it_whole(tmp_path):
    path = tmp_path / "docs.jsonl"
    lines = [json.dumps({"text": f"Document number {i} has a few words."}) for i in range(40)]
    lines[7] = "{not json"
    path.write_text("\n".join(lines) + "\n")
    spec = InputSpec(name="src", glob=str(path))
    whole_outputs, whole_counts = _process(InputPart(spec, (FileRange(str(path)),)), ReadConfig(), tmp_path / "whole")
    config = ReadConfig(split_bytes=300)
    pieces = split_large_part(InputPart(spec, (FileRange(str(path)),)), config)
    assert len(pieces) > 3
    counts: dict = {}
    rows, dead = [], []
    for piece in pieces:
        outputs, piece_counts = _process(piece, config, tmp_path / "ranges")
        for counter, n in piece_counts.items():
            counts[counter] = counts.get(counter, 0) + n
        for output in outputs:
            written = getattr(output, "value", output)
            if written.path.endswith(".parquet"):
                rows += pq.read_table(written.path).to_pylist()
            else:
                dead += Path(written.path).read_text().splitlines()
    assert counts == whole_counts
    assert counts["files"] == 1 and counts["documents_read"] == 39 and counts["dead_letter.invalid_json"] == 1
    (whole_docs,) = [o for o in whole_outputs if not hasattr(o, "tag")]
    assert rows == pq.read_table(whole_docs.path).to_pylist()
    assert [json.loads(line)["position"] for line in dead] == [8]


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> Path:
    """Three parts through WriteParts with removals, target 2 parts' worth per shard."""
    root = tmp_path_factory.mktemp("write_parts")
    parts = [
        _write_part(root / f"p{i}.parquet", [_doc(10 * i + j, source="ab"[j % 2]) for j in range(4)])._replace(
            order=(f"file{i}", 0, "web")
        )
        for i in range(3)
    ]
    removed = [RemovedRow(parts[0].path, 1, "dropped.exact_duplicate"), RemovedRow(parts[2].path, 0, "dropped.x")]
    with beam.Pipeline(options=PipelineOptions(IN_MEMORY)) as pipeline:
        stats = (
            pipeline
            | "Parts" >> beam.Create(parts)
            | WriteParts(
                str(root / "out"),
                "parquet",
                parts[0].bytes + parts[1].bytes,
                DOCS_SCHEMA,
                removed=pipeline | "Removed" >> beam.Create(removed),
                count_output=True,
            )
        )
        _ = (
            stats
            | beam.CombinePerKey(sum)
            | beam.combiners.ToList()
            | beam.Map(lambda totals: (root / "stats.json").write_text(json.dumps(sorted(totals))))
        )
    return root


def test_write_parts_keeps_input_order_drops_removed_rows_and_counts_them(written):
    shards = sorted((written / "out").glob("part-*.parquet"))
    assert [shard.name for shard in shards] == ["part-00000.parquet", "part-00001.parquet"]
    assert [pq.read_table(shard).column("id").to_pylist() for shard in shards] == [
        ["a:f:0", "a:f:2", "b:f:3", "a:f:10", "b:f:11", "a:f:12", "b:f:13"],  # parts 0 and 1, b:f:1 removed
        ["b:f:21", "a:f:22", "b:f:23"],  # part 2, a:f:20 removed
    ]
    stats = {(source, counter): n for (source, counter), n in json.loads((written / "stats.json").read_text())}
    assert stats[("b", "dropped.exact_duplicate")] == 1 and stats[("a", "dropped.x")] == 1
    assert stats[("a", "documents_out")] + stats[("b", "documents_out")] == 10
