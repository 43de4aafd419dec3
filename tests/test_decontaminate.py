"""Decontamination: matching benchmark items in documents, the verdict on a hit document, the
benchmark readers, and the partitioned index, without Beam (the Beam runs: test_decontaminate_run.py)."""

from __future__ import annotations

import gzip
import json
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from apache_beam.pvalue import TaggedOutput

from tests.helpers import DECONTAMINATION_ITEM as ITEM
from tests.helpers import DECONTAMINATION_SHORT_ITEM as SHORT_ITEM
from tests.helpers import REPO_ROOT
from transforms.decontaminate.index import UNREADABLE_TAG, IndexItems, IndexPlan, plan_index, write_bucket
from transforms.decontaminate.items import BenchmarkFile, benchmark_files, check_readable, read_items, record_text
from transforms.decontaminate.matching import (
    MAX_CUTS,
    Index,
    find_matches,
    item_keys,
    normalised_words,
    verdict,
    word_hashes,
    words_of,
)
from transforms.decontaminate.settings import BenchmarkSpec, DecontaminateConfig
from transforms.decontaminate.stage import Decontamination, Decontaminator
from transforms.settings import ConfigError
from transforms.writers import DOCS_SCHEMA

# ITEM: 30 words of helpers.PROSE, matched by its 13-grams; SHORT_ITEM: 6 words, matched whole.
# Other text: Alice's paragraphs, which share no 13 words with PROSE.
ALICE = (REPO_ROOT / "examples" / "corpus" / "books" / "alice29.txt").read_text(encoding="latin-1")
OTHER = " ".join(ALICE.split()[2000:2600])


def index_of(items: list[str], ngram: int = 13) -> tuple[Index, tuple[int, ...]]:
    """An in-memory index of `items` (item i's reference is i) and the run lengths it needs."""
    keys, refs, lengths = [], [], {ngram}
    for ref, text in enumerate(items):
        words = normalised_words(text).words
        item = item_keys(words, ngram)
        keys.append(item)
        refs.append(np.full(len(item), ref, dtype=np.uint64))
        lengths.add(min(len(words), ngram))
    entries = np.stack([np.concatenate(keys), np.concatenate(refs)], axis=1)
    return Index.of_entries(entries[np.lexsort((entries[:, 1], entries[:, 0]))]), tuple(sorted(lengths))


def items_found(document: str, items: list[str]) -> set[int]:
    index, lengths = index_of(items)
    return {match.item for match in find_matches(word_hashes(normalised_words(document).words), index, lengths)}


def test_an_item_found_verbatim():
    assert items_found(f"{OTHER[:500]} {ITEM} {OTHER[500:1000]}", [ITEM]) == {0}


def test_an_item_rewrapped_at_8_words_per_line_is_found():
    words = ITEM.split()
    rewrapped = "\n".join(" ".join(words[i : i + 8]) for i in range(0, len(words), 8))
    assert items_found(rewrapped, [ITEM]) == {0}


def test_an_item_with_case_and_punctuation_changed_is_found():
    changed = ITEM.upper().replace(",", " ;").replace(".", "!").replace(" the ", " -- the ")
    assert changed != ITEM and items_found(f'"{changed}"', [ITEM]) == {0}


def test_an_item_embedded_in_ten_times_its_length_of_other_text_is_found():
    other = OTHER.split()
    before, after = " ".join(other[:150]), " ".join(other[150:300])  # 300 words around 30
    assert items_found(f"{before}\n\n{ITEM}\n\n{after}", [ITEM]) == {0}


def test_unicode_compatibility_forms_and_ligatures_match_their_plain_letters():
    item = "the ﬁsh market opened at dawn while the ﬂeet rested in the harbour below"
    assert items_found("THE FISH MARKET OPENED AT DAWN WHILE THE FLEET RESTED IN THE HARBOUR BELOW", [item]) == {0}
    assert items_found("ｔｈｅ fish market opened at dawn while the fleet rested in the harbour below", [item]) == {0}


def test_a_short_item_is_matched_only_whole():
    item = SHORT_ITEM
    assert items_found(f"{OTHER[:300]} The old captain walked home, slowly. {OTHER[300:600]}", [item]) == {0}
    assert items_found(f"{OTHER[:300]} The old captain walked home quickly {OTHER[300:600]}", [item]) == set()


def test_twelve_shared_words_of_a_long_item_are_no_match_and_thirteen_are():
    words = ITEM.split()
    assert items_found(f"{OTHER[:300]} {' '.join(words[5:17])} {OTHER[300:600]}", [ITEM]) == set()
    assert items_found(f"{OTHER[:300]} {' '.join(words[5:18])} {OTHER[300:600]}", [ITEM]) == {0}


def test_a_document_without_any_item_matches_nothing():
    assert items_found(ALICE[:20_000], [ITEM, SHORT_ITEM]) == set()


def test_the_index_finds_exactly_the_keys_it_holds_through_its_bit_filter():
    rng = np.random.default_rng(0)
    keys = np.unique(rng.integers(0, 2**64 - 1, 50_000, dtype=np.uint64))
    index = Index.of_entries(np.stack([keys, np.arange(len(keys), dtype=np.uint64)], axis=1))
    queries = np.concatenate([keys[::7], rng.integers(0, 2**64 - 1, 50_000, dtype=np.uint64)])
    assert np.array_equal(index.held(queries), np.flatnonzero(np.isin(queries, keys)))
    assert len(index.filter_bits) * 8 >= 8 * len(keys)  # at least 8 bits a key: few false candidates


@pytest.mark.parametrize(
    "text",
    [
        "Straße, ﬁne  FISH\n(caught)",
        "cafe\u0301 ＡＢＣ① ㎏ x²  \u00a0naïve\u3000Σίσυφος ΣΊΣΥΦΟΣ",
        "don't stop-word_here 3.14 e\u0301\u0327 \u00a8 a\u00a8b İstanbul",
        ALICE[:3000],
    ],
)
def test_words_with_offsets_are_the_words_documents_are_matched_by(text):
    assert normalised_words(text).words == words_of(text)


def test_word_offsets_point_into_the_original_text():
    text = "Straße, ﬁne  FISH\n(caught)"
    words = normalised_words(text)
    assert words.words == ["strasse", "fine", "fish", "caught"]
    assert [text[s:e] for s, e in zip(words.starts, words.ends)] == ["Straße,", "ﬁne", "FISH", "(caught)"]
    ascii_words = normalised_words("Fish, (caught)!")
    assert [("Fish, (caught)!")[s:e] for s, e in zip(ascii_words.starts, ascii_words.ends)] == ["Fish", "caught"]


def _verdict(document: str, items: list[str], mode: str):
    index, lengths = index_of(items)
    words = normalised_words(document)
    return verdict(document, words, find_matches(word_hashes(words.words), index, lengths), mode)


def test_drop_mode_drops_the_whole_document():
    document = f"{OTHER[:1000]} {ITEM} {OTHER[1000:2000]}"
    result = _verdict(document, [ITEM], "drop")
    assert (result.action, result.text) == ("drop", "")
    assert result.words_removed == len(normalised_words(document).words)


def test_redact_mode_cuts_the_item_and_200_characters_either_side_at_whitespace():
    before, after = OTHER[:1000].rsplit(" ", 1)[0], OTHER[1000:2000].split(" ", 1)[1]
    document = f"{before} {ITEM} {after}"
    result = _verdict(document, [ITEM], "redact")
    assert result.action == "redact"
    assert ITEM not in result.text and "harbour" not in result.text
    assert result.text.startswith(before[:700]) and result.text.endswith(after[-700:])
    cut = len(document) - len(result.text)
    assert len(ITEM) + 400 <= cut < len(ITEM) + 400 + 40  # widened to whitespace: a word at most each side
    assert result.words_removed == len(normalised_words(document).words) - len(normalised_words(result.text).words)


def test_redact_mode_drops_a_document_that_needs_more_than_ten_cuts():
    filler = OTHER[:600]
    for copies, action in ((MAX_CUTS, "redact"), (MAX_CUTS + 1, "drop")):
        document = filler + "".join(f" {ITEM} {filler}" for _ in range(copies))
        assert _verdict(document, [ITEM], "redact").action == action


def test_a_redaction_that_leaves_no_word_drops_the_document():
    assert _verdict(f"{ITEM} and more.", [ITEM], "redact").action == "drop"


def test_items_of_a_jsonl_record_leave_out_id_fields_and_flatten_lists():
    record = {
        "id": "q-1",
        "question": "Which planet is red?",
        "choices": ["Mars", "Venus"],
        "answer": 0,
        "task_id": "x",
    }
    assert record_text(record, ()) == "Which planet is red? Mars Venus"
    assert record_text(record, ("choices", "question", "answer")) == "Mars Venus Which planet is red? 0"


def _file(path: Path, fields: tuple[str, ...] = ()) -> BenchmarkFile:
    return BenchmarkFile("bench", str(path), path.name, fields)


def test_benchmark_readers_give_one_item_per_line_row_or_paragraph(tmp_path):
    lines = [{"question": "one two three"}, {"question": "four five six"}]
    (tmp_path / "a.jsonl").write_text("\n".join(map(json.dumps, lines)) + "\n\nnot json\n")
    assert list(read_items(_file(tmp_path / "a.jsonl"))) == [(1, "one two three"), (2, "four five six"), (4, None)]
    with gzip.open(tmp_path / "b.jsonl.gz", "wt") as handle:
        handle.write(json.dumps({"q": "seven eight nine"}) + "\n")
    assert list(read_items(_file(tmp_path / "b.jsonl.gz"))) == [(1, "seven eight nine")]
    pq.write_table(pa.table({"id": ["a", "b"], "text": ["ten eleven", "twelve"]}), tmp_path / "c.parquet")
    assert list(read_items(_file(tmp_path / "c.parquet"))) == [(0, "ten eleven"), (1, "twelve")]
    (tmp_path / "d.txt").write_text("first paragraph\nwraps here\n\n  \nsecond one\n\n\n third\n")
    assert list(read_items(_file(tmp_path / "d.txt"))) == [
        (1, "first paragraph\nwraps here"),
        (5, "second one"),
        (8, "third"),
    ]
    assert [check_readable(_file(path)) for path in sorted(tmp_path.iterdir())] == [None] * 4


def _parquet_of_questions(path: Path) -> None:
    pq.write_table(pa.table({"question": ["one two three"]}), path)


@pytest.mark.parametrize(
    "name, content, text_fields, reason",
    [
        ("b.parquet", b"PAR1garbage", (), "cannot be read: ArrowInvalid: Parquet magic bytes not found in footer"),
        ("b.parquet", b"one two three\n", (), "is named as parquet but does not start with Parquet's PAR1"),
        ("b.arrow", b"\xff\xff\xff\xffgarbage", (), "cannot be read: "),
        ("b.jsonl", b"one two three\n", (), "is named as jsonl but does not start with a JSON object"),
        ("b.json", b'[{"question": "one two"}]\n', (), "is named as jsonl but does not start with a JSON object on"),
        ("b.jsonl.gz", gzip.compress(b"{}\n", mtime=0)[:10] + b"garbage", (), "does not decompress as gzip: "),
        ("b.jsonl.zst", b"\x28\xb5\x2f\xfd" + b"garbage", (), "does not decompress as zstd: "),
        ("b.jsonl", b'{"question": "one two three"}\n', ("question", "choices"), "has no field choices of text_fields"),
        ("b.parquet", _parquet_of_questions, ("query",), "has no field query of text_fields (it has question)"),
        ("b.txt", "caf\xe9 au lait".encode("latin-1"), (), "is no UTF-8 text: 'utf-8' codec can't decode byte 0xe9"),
        ("b.txt", "one two three".encode("utf-16"), (), "is no UTF-8 text (it holds NUL bytes"),
    ],
)
def test_a_benchmark_file_not_readable_as_what_it_is_is_a_one_line_error_before_any_work(
    tmp_path, name, content, text_fields, reason
):
    path = tmp_path / name
    content(path) if callable(content) else path.write_bytes(content)
    with pytest.raises(ConfigError) as raised:
        benchmark_files([BenchmarkSpec("bench", str(path), list(text_fields))])
    [problem] = raised.value.problems
    assert problem.startswith(f"decontaminate.benchmarks[0].path: {path} {reason}") and "\n" not in problem


def _index_counts(file: BenchmarkFile) -> tuple[Counter, list]:
    """IndexItems' counts of one file, as it leaves them on the stats output, and its unreadable files."""
    indexing = IndexItems(13, 8)
    indexing.start_bundle()
    outputs = list(indexing.process((0, file)))
    unreadable = [out.value for out in outputs if isinstance(out, TaggedOutput) and out.tag == UNREADABLE_TAG]
    counts = Counter({counter: n for out in indexing.finish_bundle() for (_, counter), n in [out.value.value]})
    return counts, unreadable


def test_an_unreadable_item_or_a_file_that_breaks_off_is_counted_and_the_job_goes_on(tmp_path, caplog):
    lines = [json.dumps({"question": f"item {i} has words enough"}) for i in range(5000)]
    whole = gzip.compress("\n".join([lines[0], "[1, 2]", *lines[1:]]).encode() + b"\n")  # line 2: no object
    (tmp_path / "cut.jsonl.gz").write_bytes(whole[: len(whole) // 2])  # breaks off after its start
    with caplog.at_level("WARNING"):
        counts, [(benchmark, unreadable)] = _index_counts(_file(tmp_path / "cut.jsonl.gz"))
    assert counts["bench.items_unreadable"] == 1 and counts["bench.files_unreadable"] == 1
    assert 1 < counts["bench.items"] < 5000
    reason = f"unreadable after {counts['bench.items']} items: EOFError: Compressed file ended before the end-of-stream"
    assert (benchmark, unreadable["path"]) == ("bench", str(tmp_path / "cut.jsonl.gz"))
    assert unreadable["reason"].startswith(reason)
    assert f"{tmp_path / 'cut.jsonl.gz'} is {reason}" in caplog.text
    gone, [(_, missing)] = _index_counts(_file(tmp_path / "gone.jsonl"))  # removed after the driver's check
    assert (gone["bench.items"], gone["bench.files_unreadable"]) == (0, 1)
    assert missing["reason"].startswith("unreadable after 0 items: ")


def test_a_datasets_benchmark_is_read_row_by_row_from_its_saved_files(tmp_path):
    import datasets

    datasets.Dataset.from_dict({"id": ["a", "b"], "question": ["one two three", "four five"]}).save_to_disk(
        tmp_path / "ds"
    )
    files = benchmark_files([BenchmarkSpec("sq", f"hf={tmp_path / 'ds'}")])
    assert [item for file in files for item in read_items(file)] == [(0, "one two three"), (1, "four five")]
    assert files[0].relative_path.startswith("data-")


def test_benchmark_files_are_below_their_paths_root_and_a_glob_matching_nothing_is_a_config_error(tmp_path):
    (tmp_path / "evals" / "mmlu").mkdir(parents=True)
    (tmp_path / "evals" / "mmlu" / "a.jsonl").write_text("{}\n")
    files = benchmark_files([BenchmarkSpec("mmlu", f"{tmp_path}/evals/*/*.jsonl")])
    assert [(f.benchmark, f.relative_path) for f in files] == [("mmlu", "mmlu/a.jsonl")]
    with pytest.raises(ConfigError, match=r"decontaminate.benchmarks\[0\].path: .* matches no file"):
        benchmark_files([BenchmarkSpec("gsm8k", f"{tmp_path}/none/*.jsonl")])


def test_the_printed_defaults_show_the_section_and_document_a_benchmarks_fields(tmp_path):
    from pipeline.config import defaults_as_yaml, load_config_file

    printed = defaults_as_yaml()
    section = printed[printed.index("\ndecontaminate:") :]
    assert "  benchmarks: []\n    #   name: " in section and "    #   text_fields: " in section
    (tmp_path / "defaults.yaml").write_text(printed)
    assert load_config_file(tmp_path / "defaults.yaml").decontaminate == DecontaminateConfig()


def test_settings_problems_name_each_field():
    config = DecontaminateConfig(
        benchmarks=[BenchmarkSpec("a.b", "x"), BenchmarkSpec("c", "")], ngram=2, mode="cut", min_item_words=0
    )
    fields = [problem.split(":")[0] for problem in config.problems()]
    assert fields == [
        "decontaminate.benchmarks[0].name",
        "decontaminate.benchmarks[1].path",
        "decontaminate.ngram",
        "decontaminate.mode",
        "decontaminate.min_item_words",
    ]


# ---------------------------------------------------------------------------
# The index in files, one partition or several, and a docs file checked against it.

BENCHMARK_ITEMS = [
    {"question": ITEM},
    {"question": SHORT_ITEM},
    {"question": "yes no"},  # two words: skipped
    {"question": " ".join(OTHER.split()[700:760])},  # in no document
]


def _build_index(tmp_path: Path, config: DecontaminateConfig) -> tuple[list[BenchmarkFile], IndexPlan]:
    """What BuildIndex does, in this process: the items indexed, the buckets written, the plan made."""
    (tmp_path / "bench.jsonl").write_text("".join(json.dumps(item) + "\n" for item in BENCHMARK_ITEMS))
    files = [_file(tmp_path / "bench.jsonl")]
    indexing = IndexItems(config.ngram, config.min_item_words)
    indexing.start_bundle()
    chunks, lengths = defaultdict(list), []
    for number, file in enumerate(files):
        for out in indexing.process((number, file)):
            if isinstance(out, TaggedOutput):
                lengths.append(out.value)
            else:
                chunks[out[0]].append(out[1])
    (tmp_path / "index").mkdir(exist_ok=True)
    sizes = [write_bucket(grouped, str(tmp_path / "index")) for grouped in sorted(chunks.items())]
    return files, plan_index(sizes, lengths, config, str(tmp_path / "index"))


def _docs_file(path: Path) -> None:
    texts = [
        f"{OTHER[:400]} {ITEM} {OTHER[400:900]}",
        OTHER[900:2000],
        f"{OTHER[2000:2300]} The old captain walked home slowly. {OTHER[2300:2600]}",
        OTHER[2600:3000],
    ]
    rows = [{"id": f"web:a.txt:{i}", "source": "web", "text": text} for i, text in enumerate(texts)]
    pq.write_table(pa.Table.from_pylist(rows, schema=DOCS_SCHEMA), path)


def _check(tmp_path: Path, budget: int, mode: str) -> tuple[int, bytes, bytes, Counter]:
    config = DecontaminateConfig(mode=mode, index_memory_bytes=budget)
    files, plan = _build_index(tmp_path, config)
    _docs_file(tmp_path / "in.parquet")
    counts: Counter = Counter()
    out = tmp_path / f"out-{budget}-{mode}"
    result = Decontaminator(Decontamination(config, files)).docs_file(
        plan,
        str(tmp_path / "in.parquet"),
        str(out / "docs.parquet"),
        str(out / "contaminated.jsonl"),
        lambda source, counter, n: counts.update({(source, counter): n}),
    )
    assert result.found == {("bench", "bench:bench.jsonl:1"), ("bench", "bench:bench.jsonl:2")}
    return (
        len(plan.partitions),
        (out / "docs.parquet").read_bytes(),
        (out / "contaminated.jsonl").read_bytes(),
        counts,
    )


@pytest.mark.parametrize("mode", ["drop", "redact"])
def test_a_partitioned_index_gives_what_one_partition_gives(tmp_path, mode):
    one, docs, contaminated, counts = _check(tmp_path, 1 << 30, mode)
    several, docs_partitioned, contaminated_partitioned, counts_partitioned = _check(tmp_path, 16 * 6, mode)
    assert (one, several > 3) == (1, True)
    assert (docs_partitioned, contaminated_partitioned, counts_partitioned) == (docs, contaminated, counts)


def test_the_contaminated_records_and_counts_of_a_docs_file(tmp_path):
    _, docs, contaminated, counts = _check(tmp_path, 1 << 30, "drop")
    records = [json.loads(line) for line in contaminated.decode().splitlines()]
    assert [(r["id"], r["source"], r["benchmark"], r["items"], r["action"]) for r in records] == [
        ("web:a.txt:0", "web", "bench", ["bench:bench.jsonl:1"], "drop"),
        ("web:a.txt:2", "web", "bench", ["bench:bench.jsonl:2"], "drop"),
    ]
    assert records[0]["ngrams"][0] == " ".join(normalised_words(ITEM).words[:13])
    assert len(records[0]["ngrams"]) == 30 - 13 + 1
    assert records[1]["ngrams"] == [SHORT_ITEM]
    assert counts[("web", "dropped.contaminated")] == 2
    assert counts[("(decontaminate)", "bench.documents_hit")] == 2
    kept = pq.read_table(pa.BufferReader(docs)).column("id").to_pylist()
    assert kept == ["web:a.txt:1", "web:a.txt:3"]


def test_the_printed_table_shows_unreadable_items_and_files_per_benchmark():
    from pipeline.inspection import format_decontamination

    counts = dict(items=9, items_short=2, items_unreadable=3, files_unreadable=1, items_found=4)
    header, row = format_decontamination({"bench": {**counts, "documents_hit": 5, "words_removed": 600}}).splitlines()
    assert header.split() == [
        "benchmark",
        "items",
        "short",
        "unreadable",
        "bad",
        "files",
        "found",
        "docs",
        "hit",
        "words",
        "removed",
    ]
    assert row.split() == ["bench", "9", "2", "3", "1", "4", "5", "600"]


def test_decontamination_json_lists_each_benchmarks_unreadable_files_in_path_order():
    from transforms.decontaminate.stage import decontamination_report

    stats = {"stages": {"decontaminate": {"a": {"items": 5, "files_unreadable": 2}}}}
    unreadable = [
        ("a", {"path": "z.jsonl", "reason": "r1"}),
        ("b", {"path": "y", "reason": "r2"}),
        ("a", {"path": "x", "reason": "r3"}),
    ]
    report = decontamination_report(stats, ["a", "c"], unreadable)
    assert (report["a"]["items"], report["a"]["files_unreadable"], report["c"]["items"]) == (5, 2, 0)
    assert [f["path"] for f in report["a"]["unreadable_files"]] == ["x", "z.jsonl"]
    assert report["c"]["unreadable_files"] == []
