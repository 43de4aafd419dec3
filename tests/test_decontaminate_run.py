"""Decontamination in Beam (conftest's `decontamination_run`): in prepare (drop, one index
partition) and as `textshards decontaminate` (redact, several partitions); its reports, its
counts, and its operator errors."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from pipeline.cli import main
from pipeline.inspection import format_funnel
from tests.helpers import DECONTAMINATION_DOCUMENTS, DECONTAMINATION_SHORT_ITEM, IN_MEMORY
from transforms.decontaminate.matching import normalised_words

# Documents 0, 2 and 3 hold an item (verbatim; re-wrapped, upper case, other punctuation; the
# short item whole); 1 and 4 hold none.
HIT = [0, 2, 3]


def _ids(directory: Path) -> list[str]:
    return [i for path in sorted((directory / "docs").glob("*.parquet")) for i in pq.read_table(path)["id"].to_pylist()]


def _contaminated(directory: Path) -> list[dict]:
    return [json.loads(line) for path in sorted((directory / "contaminated").glob("*.jsonl")) for line in path.open()]


def test_prepare_drops_every_document_that_holds_an_item(decontamination_run):
    prepare = decontamination_run / "prepare"
    assert _ids(prepare) == ["web:documents.jsonl:2", "web:documents.jsonl:5"]
    records = _contaminated(prepare)
    assert [(r["id"], r["source"], r["benchmark"], r["items"], r["action"]) for r in records] == [
        ("web:documents.jsonl:1", "web", "bench", ["bench:bench.jsonl:1"], "drop"),
        ("web:documents.jsonl:3", "web", "bench", ["bench:bench.jsonl:1"], "drop"),
        ("web:documents.jsonl:4", "web", "bench", ["bench:bench.jsonl:2"], "drop"),
    ]
    assert records[2]["ngrams"] == [DECONTAMINATION_SHORT_ITEM]
    assert all(1 <= len(r["ngrams"]) <= 20 for r in records)


def test_prepare_counts_contaminated_documents_per_source_and_they_balance(decontamination_run):
    stats = json.loads((decontamination_run / "prepare" / "stats.json").read_text())
    web = stats["sources"]["web"]
    assert web["dropped"] == {"contaminated": 3}
    assert web["documents_read"] == web["documents_out"] + sum(web["dropped"].values()) == 5
    # The funnel has the step between the filters and dedup, where the drops happen.
    assert web["documents_after_filter"] - 3 == web["documents_after_decontaminate"] == web["documents_out"]
    header = format_funnel(stats).splitlines()[0].split()
    assert header == ["read", "after", "clean", "after", "filter", "after", "decontaminate", "after", "dedup"]


def test_decontamination_json_counts_items_found_documents_hit_and_words_removed(decontamination_run):
    report = json.loads((decontamination_run / "prepare" / "decontamination.json").read_text())
    words = sum(len(normalised_words(DECONTAMINATION_DOCUMENTS[i]).words) for i in HIT)
    assert report == {
        "bench": {
            "items": 4,
            "items_short": 2,
            "items_skipped": 1,
            "items_unreadable": 0,
            "files_unreadable": 0,
            "unreadable_files": [],
            "items_found": 2,
            "documents_hit": 3,
            "words_removed": words,
        }
    }


def test_the_decontaminate_step_redacts_with_a_partitioned_index(decontamination_run):
    output = decontamination_run / "decontaminated"
    assert sorted(p.name for p in output.iterdir()) == [
        "_SUCCESS",
        "contaminated",
        "decontamination.json",
        "docs",
        "stats.json",
    ]
    assert sorted(p.name for p in (output / "docs").iterdir()) == ["part-00000.parquet", "part-00001.parquet"]
    rows = [row for path in sorted((output / "docs").glob("*.parquet")) for row in pq.read_table(path).to_pylist()]
    assert [row["id"] for row in rows] == [f"web:d.jsonl:{i}" for i in range(5)]
    for i, row in enumerate(rows):
        if i in HIT:
            assert len(row["text"]) < len(DECONTAMINATION_DOCUMENTS[i]) - 400
        else:
            assert row["text"] == DECONTAMINATION_DOCUMENTS[i]
    assert [(r["id"], r["action"]) for r in _contaminated(output)] == [(f"web:d.jsonl:{i}", "redact") for i in HIT]
    stats = json.loads((output / "stats.json").read_text())["sources"]["web"]
    assert (stats["changed"], stats["documents_read"], stats["documents_out"]) == ({"contaminated": 3}, 5, 5)
    report = json.loads((output / "decontamination.json").read_text())["bench"]
    dropped = json.loads((decontamination_run / "prepare" / "decontamination.json").read_text())["bench"]
    assert (report["items_found"], report["documents_hit"]) == (2, 3)
    assert 0 < report["words_removed"] < dropped["words_removed"]


def _one_line_error(capsys, argv: list[str]) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("textshards: ") and "Traceback" not in err, err
    return err.strip()


def test_the_decontaminate_steps_operator_errors_are_one_line(decontamination_run, tmp_path, capsys):
    docs = str(decontamination_run / "docs" / "docs")
    bench = f"bench={decontamination_run / 'bench.jsonl'}"
    step = ["decontaminate", "--docs", docs]
    err = _one_line_error(capsys, [*step, "--output", str(tmp_path / "a"), "--", *IN_MEMORY])
    assert "decontaminate.benchmarks: at least one benchmark is required (--decontaminate NAME=GLOB)" in err
    err = _one_line_error(capsys, [*step, "--output", str(tmp_path / "a"), "--decontaminate", f"x={tmp_path}/*.json"])
    assert err.endswith(f"decontaminate.benchmarks[0].path: '{tmp_path}/*.json' matches no file")
    err = _one_line_error(capsys, [*step, "--output", str(decontamination_run / "docs"), "--decontaminate", bench])
    assert "holds the documents read" in err
    err = _one_line_error(capsys, [*step, "--output", str(tmp_path / "a"), "--decontaminate", "mmlu"])
    assert "--decontaminate: 'mmlu' must look like NAME=GLOB" in err
    (tmp_path / "file").write_text("not a directory")
    err = _one_line_error(capsys, [*step, "--output", str(tmp_path / "file"), "--decontaminate", bench])
    assert "is a file; give a directory" in err
    (tmp_path / "b.parquet").write_bytes(b"PAR1garbage")
    err = _one_line_error(
        capsys, [*step, "--output", str(tmp_path / "a"), "--decontaminate", f"b={tmp_path}/b.parquet"]
    )
    assert err.endswith(
        f"{tmp_path}/b.parquet cannot be read: ArrowInvalid: Parquet magic bytes not found in footer. "
        "Either the file is corrupted or this is not a parquet file."
    )
    assert not (tmp_path / "a").exists()


def test_the_python_api_takes_benchmarks_as_name_glob_strings(decontamination_run, tmp_path):
    import textshards

    docs = str(decontamination_run / "docs" / "docs")
    with pytest.raises(textshards.ConfigError, match=r"benchmarks\[0\].path: '/nowhere/\*.jsonl' matches no file"):
        textshards.decontaminate(docs=docs, output=str(tmp_path / "out"), benchmarks=["b=/nowhere/*.jsonl"])


@pytest.mark.parametrize("glob", ["*.jsonl", "none/"])
def test_prepare_with_a_benchmark_matching_nothing_is_one_line_before_any_work(tmp_path, capsys, glob):
    (tmp_path / "a.txt").write_text("text")
    argv = ["prepare", "--input", f"a={tmp_path}/a.txt", "--output", str(tmp_path / "out")]
    err = _one_line_error(capsys, [*argv, "--decontaminate", f"b={tmp_path}/{glob}", "--", *IN_MEMORY])
    assert "decontaminate.benchmarks[0].path:" in err
    assert not (tmp_path / "out" / "_SUCCESS").exists()
