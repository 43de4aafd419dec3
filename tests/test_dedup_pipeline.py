"""`Deduplicate` end to end on the DirectRunner: kept rows, duplicates/ records, counts, determinism.

The module's cases run once, side by side in one pipeline (`runs`), and the tests read their results.
"""

import json
import random
from pathlib import Path
from typing import NamedTuple

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from tests.helpers import IN_MEMORY, MULTI_PROCESS
from transforms.dedup import GRAPH_STATS_SOURCE, Deduplicate
from transforms.dedup.keep import KeepRule, node_of
from transforms.dedup.settings import DedupConfig
from transforms.parts import PartFile, WriteParts
from transforms.stats import STATS_TAG

VOCABULARY = [f"word{i}" for i in range(5000)]


def _text(seed: int, words: int = 300) -> str:
    rng = random.Random(seed)
    return " ".join(rng.choice(VOCABULARY) for _ in range(words))


def _substitute(text: str, count: int, seed: int, offset: int = 0) -> str:
    """`text` with `count` words replaced, spread out (each breaks up to 5 of ~300 shingles)."""
    words = text.split(" ")
    for i in range(count):
        words[(i + 1) * len(words) // (count + 1) + offset] = f"edit{seed}x{i}"
    return " ".join(words)


def _row(doc_id: str, text: str, source: str = "web", **extra) -> dict:
    return {
        "id": doc_id,
        "source": source,
        "url": None,
        "kind": "text",
        "encoding": "utf-8 (bom)",
        "text": text,
        **extra,
    }


class Run(NamedTuple):
    kept: dict[str, dict]  # the rows left after Deduplicate's removals, by id
    stats: dict[tuple[str, str], int]  # its counts, summed, by (source, name)
    records: list[dict]  # its duplicates/ records
    staging: Path  # the directory it wrote them in


def _write_parts(rows: list[dict], directory: Path, count: int = 3) -> tuple[list[PartFile], pa.Schema]:
    """The rows as `count` part files (consecutive slices), as prepare's per-document stage writes them."""
    directory.mkdir()
    table = pa.Table.from_pylist(rows)
    parts = []
    for i in range(count):
        path = str(directory / f"{i}.parquet")
        pq.write_table(table.slice(i * len(rows) // count, (i + 1) * len(rows) // count - i * len(rows) // count), path)
        parts.append(PartFile((i,), path, 0))
    return parts, table.schema


def _run(root: Path, cases: dict[str, tuple[list[dict], DedupConfig]], beam_args=IN_MEMORY) -> dict[str, Run]:
    """Each case's rows, as part files, through a Deduplicate of its config and the writer of the
    kept rows (WriteParts), in root/<case>. The cases share one pipeline, side by side: one Beam job
    for the module's cases rather than one per test."""

    def dump(values: list, path: str) -> None:  # nested: pickled by value, for worker processes without tests/
        Path(path).write_text(json.dumps(values, sort_keys=True, default=list))

    with beam.Pipeline(options=PipelineOptions(beam_args)) as pipeline:
        for name, (rows, config) in cases.items():
            staging = root / name
            staging.mkdir()
            parts, schema = _write_parts(rows, staging / "parts")
            parts_in = pipeline | f"{name}: parts" >> beam.Create(parts)
            result = parts_in | f"{name}: dedup" >> Deduplicate(config, str(staging))
            written = parts_in | f"{name}: write kept" >> WriteParts(
                str(staging / "kept"), "parquet", 1 << 30, schema, removed=result.removed
            )
            _ = (
                (result[STATS_TAG], written)
                | f"{name}: all stats" >> beam.Flatten()
                | f"{name}: sum counts" >> beam.CombinePerKey(sum)
                | f"{name}: all counts" >> beam.combiners.ToList()
                | f"{name}: dump counts" >> beam.Map(dump, str(staging / "stats.json"))
            )
    return {name: _read_run(root / name) for name in cases}


def _read_run(staging: Path) -> Run:
    kept = {
        row["id"]: row
        for path in sorted((staging / "kept").glob("*.parquet"))
        for row in pq.read_table(path).to_pylist()
    }
    stats = {tuple(key): n for key, n in json.loads((staging / "stats.json").read_text())}
    records = [
        json.loads(line)
        for path in sorted((staging / "duplicates").glob("*.jsonl"))
        for line in path.read_text().splitlines()
    ]
    return Run(kept, stats, records, staging)


def _scenario() -> list[dict]:
    """Families that do not touch each other, one behaviour each."""
    a, b, e = _text(1), _text(2), _text(3)
    rows = [
        # An exact copy from another source (case and punctuation changed) and a near copy.
        _row("web:a", a, quality=0.93),
        _row("books:a-shouted", a.upper().replace(" ", ", "), source="books", quality=0.5),
        _row("web:a-edited", _substitute(a, 3, seed=1), quality=0.8),
        # A near copy with a paragraph added.
        _row("web:b", b),
        _row("jsonl:b-longer", b + "\n\n" + _text(4, 20), source="jsonl"),
        # Three identical texts, the near copy longest; e3 ("!" added) represents the three.
        _row("web:e1", e),
        _row("web:e2", e.title()),
        _row("web:e3", f"{e}!"),
        _row("books:e-edited", _substitute(e, 3, seed=2) + " and a tail", source="books"),
        # Unique, and without a single word.
        _row("web:c", _text(5)),
        _row("web:punctuation-only", "*** --- !!!"),
    ]
    # A chain: each version changes 2 new words of the previous one (Jaccard ~0.94 with it), so
    # v0 and v7 share much less (~0.6) yet all are one component.
    versions = [_text(6)]
    for i in range(1, 8):
        versions.append(_substitute(versions[-1], 2, seed=100 + i, offset=11 * i))
    return rows + [_row(f"web:v{i}", text) for i, text in enumerate(versions)]


SCENARIO_CONFIG = DedupConfig(max_rounds=4)


def _four_copies() -> list[dict]:
    """Four copies of one text, of different lengths once punctuated."""
    base = _text(7)
    return [
        _row("web:short", base),
        _row("web:long", base + " !!!"),
        _row("jsonl:middle", base + "!", source="jsonl"),
        _row("web:same-length", base.upper()),
    ]


def _a_close_and_a_far_copy() -> list[dict]:
    a = _text(11)
    return [
        _row("web:a", a),
        _row("web:a-close", _substitute(a, 2, seed=1)),
        _row("web:a-far", _substitute(a, 25, seed=2)),
    ]  # Jaccard ~0.4 with a


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Run]:
    return _run(
        tmp_path_factory.mktemp("dedup"),
        {
            "scenario": (_scenario(), SCENARIO_CONFIG),
            # Exact copies only, linked to one another: two rounds settle them (the default 12 unrolled
            # rounds would add Beam stages, and time, to every case).
            "jsonl-first": (_four_copies(), DedupConfig(source_priority=["jsonl"], near=False, max_rounds=2)),
            "shortest": (_four_copies(), DedupConfig(keep_longest=False, near=False, max_rounds=2)),
            # 128 bands of one row: the far copy is a candidate too; only verification keeps it out.
            "verified": (_a_close_and_a_far_copy(), DedupConfig(verify="exact", bands=128, rows=1, max_rounds=2)),
            "signature": (_a_close_and_a_far_copy(), DedupConfig(verify="signature", bands=128, rows=1, max_rounds=2)),
            "unverified": (_a_close_and_a_far_copy(), DedupConfig(verify="none", bands=128, rows=1, max_rounds=2)),
            "exact-only": (_scenario(), DedupConfig(near=False, max_rounds=2)),
            "near-only": (_scenario(), DedupConfig(exact=False, max_rounds=4)),
            "off": (_scenario(), DedupConfig(exact=False, near=False)),
        },
    )


@pytest.fixture(scope="module")
def scenario(runs) -> Run:
    return runs["scenario"]


def test_exact_and_near_duplicates_are_removed_and_recorded(scenario):
    kept, _, records, _ = scenario
    by_removed = {r["removed_id"]: r for r in records}
    # Longest first: "a-shouted" is longer than "a" (", " for " "), "b-longer" than "b".
    assert by_removed["web:a"] == {
        "removed_id": "web:a",
        "removed_source": "web",
        "kept_id": "books:a-shouted",
        "kept_source": "books",
        "component_id": "books:a-shouted",
        "kind": "exact",
        "jaccard_estimate": 1.0,
        "jaccard_exact": 1.0,
    }
    assert by_removed["web:a-edited"]["kind"] == "near"
    assert by_removed["web:a-edited"]["kept_id"] == "books:a-shouted"
    assert 0.8 <= by_removed["web:a-edited"]["jaccard_estimate"] < 1.0
    # Linked to the kept document directly, so the exact Jaccard of the pair was measured.
    assert 0.8 <= by_removed["web:a-edited"]["jaccard_exact"] < 1.0
    assert (by_removed["web:b"]["kind"], by_removed["web:b"]["kept_id"]) == ("near", "jsonl:b-longer")
    assert by_removed["web:b"]["component_id"] == "jsonl:b-longer"  # the smallest id, kept or not
    for name in ("books:a-shouted", "jsonl:b-longer", "books:e-edited", "web:c", "web:punctuation-only"):
        assert name in kept and name not in by_removed


def test_exact_copies_are_counted_as_exact_and_point_to_the_final_kept_document(scenario):
    _, stats, records, _ = scenario
    family = {
        r["removed_id"]: (r["kind"], r["kept_id"], r["component_id"])
        for r in records
        if r["removed_id"].startswith("web:e")
    }
    assert family == {
        "web:e3": ("near", "books:e-edited", "books:e-edited"),
        "web:e1": ("exact", "books:e-edited", "books:e-edited"),
        "web:e2": ("exact", "books:e-edited", "books:e-edited"),
    }
    assert stats[("web", "dropped.exact_duplicate")] == 3  # a, e1, e2
    assert stats[("web", "dropped.near_duplicate")] == 3 + 7  # a-edited, b, e3 and 7 of the chain


def test_kept_rows_pass_through_untouched_and_wordless_documents_are_kept(scenario):
    kept, stats, records, _ = scenario
    rows = {row["id"]: row for row in _scenario()}
    # Every column passes, "quality" too (null in the part file where a row has none).
    assert all(row == {"quality": None, **rows[doc_id]} for doc_id, row in kept.items())
    assert set(kept) | {r["removed_id"] for r in records} == set(rows)
    assert stats[("web", "dedup.no_words")] == 1


def test_chained_near_duplicates_collapse_into_one_component(scenario):
    kept, stats, records, _ = scenario
    chain = {f"web:v{i}" for i in range(8)}
    assert len(chain & set(kept)) == 1
    assert {r["component_id"] for r in records if r["removed_id"] in chain} == {"web:v0"}
    assert stats[(GRAPH_STATS_SOURCE, "cc.unsettled_after_round_04")] == 0


@pytest.mark.slow  # the multi-process runner
def test_output_is_identical_across_running_modes(scenario, tmp_path):
    kept, stats, _, staging = scenario
    other_kept, other_stats, _, other_staging = _run(
        tmp_path, {"scenario": (list(reversed(_scenario())), SCENARIO_CONFIG)}, MULTI_PROCESS
    )["scenario"]
    assert sorted(other_kept) == sorted(kept)
    assert other_stats == stats
    files = sorted(path.name for path in (staging / "duplicates").iterdir())
    assert files and files == sorted(path.name for path in (other_staging / "duplicates").iterdir())
    for name in files:
        assert (staging / "duplicates" / name).read_bytes() == (other_staging / "duplicates" / name).read_bytes()


def test_keep_rule_orders_by_source_priority_then_length_then_input_order():
    rule = KeepRule(DedupConfig(source_priority=["books", "web"]))
    rows = [
        _row("web:b", "x" * 10),
        _row("web:a", "x" * 10),
        _row("web:long", "x" * 20),
        _row("books:short", "x", source="books"),
        _row("jsonl:longest", "x" * 99, source="jsonl"),
    ]

    def kept_first(rule: KeepRule) -> list[str]:
        names = {(rule.rank(row), node_of(0, i)): row["id"] for i, row in enumerate(rows)}
        return [names[name] for name in sorted(names)]

    assert kept_first(rule) == ["books:short", "web:long", "web:b", "web:a", "jsonl:longest"]
    shortest = KeepRule(DedupConfig(keep_longest=False))
    assert kept_first(shortest) == ["books:short", "web:b", "web:a", "web:long", "jsonl:longest"]


def test_keep_rule_decides_which_copy_survives(runs):
    kept, _, records, _ = runs["jsonl-first"]
    assert sorted(kept) == ["jsonl:middle"]
    assert {r["component_id"] for r in records} == {"jsonl:middle"}  # the smallest id, whatever is kept
    kept, _, _, _ = runs["shortest"]
    assert sorted(kept) == ["web:short"]  # ties with web:same-length on length; the first in the input wins


def test_exact_verification_links_only_pairs_above_the_threshold(runs):
    _, stats, records, _ = runs["verified"]
    assert [(r["removed_id"], r["kind"]) for r in records] == [("web:a-close", "near")]
    assert 0.9 < records[0]["jaccard_exact"] < 1.0
    assert abs(records[0]["jaccard_exact"] - records[0]["jaccard_estimate"]) < 0.1
    assert stats[(GRAPH_STATS_SOURCE, "lsh.rejected_pairs")] >= 1


@pytest.mark.parametrize(
    "case, removed", [("signature", ["web:a-close"]), ("unverified", ["web:a-close", "web:a-far"])]
)
def test_verification_by_signature_or_none(runs, case, removed):
    _, _, records, _ = runs[case]
    assert sorted(r["removed_id"] for r in records) == removed
    assert all(r["jaccard_exact"] is None for r in records)  # nothing measured exactly


def test_exact_only_near_only_and_off(runs):
    assert {r["removed_id"] for r in runs["exact-only"].records} == {"web:a", "web:e1", "web:e2"}
    assert {"web:a", "web:e1", "web:e2", "web:a-edited"} <= {r["removed_id"] for r in runs["near-only"].records}
    kept, stats, records, _ = runs["off"]
    assert len(kept) == len(_scenario()) and not records and not stats
