"""`textshards train-tokenizer`: sampling, real BPE training, transformers loading, the report.

Vocabularies here are tiny (hundreds of tokens) so that training takes a second; the Beam
steps run on the real DirectRunner, in memory and multi-process.
"""

import json
import pickle
from pathlib import Path

import apache_beam as beam
import pyarrow.parquet as pq
import pytest
import yaml
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.options.pipeline_options import PipelineOptions
from tokenizers import pre_tokenizers

from pipeline.beam_runner import RunnerConfig, run_pipeline
from pipeline.cli import main
from pipeline.config import Config
from pipeline.train_tokenizer import run_train_tokenizer
from tests.helpers import IN_MEMORY, MULTI_PROCESS, REPO_ROOT
from tokenizer_training.bpe import (
    TokenizerConfig,
    check_training_memory,
    largest_sample_within,
    train_tokenizer,
    training_memory_needed,
)
from tokenizer_training.sample import (
    DrawSample,
    SourceTotals,
    add_totals,
    docs_text_bytes,
    document_totals,
    plan_sample,
    sample_rank,
    within_budget,
)
from transforms.bpe import load_tokenizer, special_ids, tokenizer_json, training_pieces
from transforms.sampling import SourceWeight, hash_fraction
from transforms.settings import ConfigError, config_from_mapping, raise_problems
from transforms.writers import parquet_bytes

SPECIALS = ["<|endoftext|>", "<|pad|>"]
TRICKY = (
    "Caf\u00e9 \u00fcber na\u00efve \u2014 \u65e5\u672c\u8a9e\u306e\u6587\u7ae0 \U0001f600 "
    "\u0645\u0631\u062d\u0628\u0627 \u00a0nbsp\u3000ideographic\x1cfs\r\n\ttab  \n\n  "
)


# ---------------------------------------------------------------------------
# Pure functions


def test_training_pieces_pre_tokenize_exactly_as_the_whole_document():
    text = (
        "It's a word, then  two spaces.\nNext line\u00a0\n\x1c\nrecord\n  indented\n\n\n"
        "digits 12345\r\nCRLF ends\u2028and \u65e5\u672c\u8a9e\n" + TRICKY
    ) * 40
    pieces = list(training_pieces(text, piece_chars=50))
    assert len(pieces) > 40 and "".join(pieces) == text
    split = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    whole = [token for token, _ in split.pre_tokenize_str(text)]
    assert [token for piece in pieces for token, _ in split.pre_tokenize_str(piece)] == whole


def test_an_upweighted_small_source_is_taken_whole_and_the_rest_shared_by_weight():
    config = TokenizerConfig(
        sample_bytes=1000,
        heldout_fraction=0.1,
        heldout_bytes=10**9,
        source_weights=[SourceWeight("web", 2.0), SourceWeight("spam", 0.0), SourceWeight("tiny", 100.0)],
    )
    sources = {
        "books": SourceTotals(5000, 50, 0.99),
        "web": SourceTotals(5000, 50, 0.99),
        "tiny": SourceTotals(100, 10, 0.99),
        "spam": SourceTotals(5000, 50, 0.99),
    }
    plan = plan_sample(sources, config)
    assert plan["tiny"].sample_below == pytest.approx(0.9)  # all but its held-out slice
    assert plan["spam"].sample_below == 0 and plan["spam"].heldout_from == pytest.approx(0.9)
    assert plan["web"].sample_below == pytest.approx(2 * plan["books"].sample_below)
    expected = sum(sources[s].bytes * plan[s].sample_below for s in sources)
    assert expected == pytest.approx(1000)
    assert all(p.sample_below <= p.draw_below <= p.heldout_from for p in plan.values())


def test_held_out_slice_is_capped_in_bytes_and_takes_the_top_document_of_a_small_source():
    config = TokenizerConfig(sample_bytes=10**9, heldout_fraction=0.05, heldout_bytes=1000)
    plan = plan_sample(
        {
            "big": SourceTotals(10**6, 1000, 0.9999),
            "few": SourceTotals(3000, 3, 0.7),
            "one": SourceTotals(3000, 1, 0.7),
        },
        config,
    )
    assert plan["big"].heldout_from == pytest.approx(0.999)
    assert plan["few"].heldout_from == 0.7  # the top document is held out, though it is > 5%
    assert plan["one"].heldout_from == pytest.approx(0.95)  # a lone document stays trainable
    assert (
        plan_sample({"few": SourceTotals(3000, 3, 0.7)}, TokenizerConfig(heldout_fraction=0.0))["few"].heldout_from
        == 1.0
    )


def test_cap_keeps_the_lowest_ranks_within_budget_whatever_the_partition():
    entries = [((hash_fraction(f"d{i}"), f"d{i}"), 10 + i % 7) for i in range(500)]
    kept = within_budget(entries, 1000)
    assert sum(size for _, size in kept) <= 1000 < sum(size for _, size in kept) + 20
    assert [key for key, _ in kept] == sorted(key for key, _ in entries)[: len(kept)]
    partial = within_budget(entries[:250], 1000) + within_budget(entries[250:], 1000)
    assert within_budget(partial, 1000) == kept


def test_hash_fraction_is_uniform_and_rank_follows_it():
    fractions = [hash_fraction(f"web:/crawl/{i}.warc.gz:{i * 977}") for i in range(20000)]
    assert all(0 <= f < 1 for f in fractions)
    assert sum(f < 0.25 for f in fractions) == pytest.approx(5000, rel=0.05)
    config = TokenizerConfig(sample_bytes=100)
    plan = plan_sample({"web": SourceTotals(1000, 100, 0.99)}, config)["web"]
    assert sample_rank(plan.draw_below * 0.99, plan) == pytest.approx(0.99 * plan.draw_below / plan.sample_below)
    assert sample_rank(plan.draw_below, plan) is None


@pytest.mark.parametrize(
    "mapping, message",
    [
        ({"vocab_size": 100}, "tokenizer.vocab_size: 100 must be at least 257"),
        ({"special_tokens": []}, "tokenizer.special_tokens: []"),
        ({"special_tokens": ["<a>", "<a>"]}, "has duplicates"),
        ({"min_frequency": 0}, "tokenizer.min_frequency: 0 must be > 0"),
        ({"heldout_fraction": 0.9}, "tokenizer.heldout_fraction: 0.9"),
        ({"source_weights": [{"source": "web", "weight": -1}]}, "tokenizer.source_weights[0].weight: -1.0"),
        ({"source_weights": [{"source": "a b"}]}, "tokenizer.source_weights[0].source: 'a b'"),
        ({"sample_bytes": "1GB"}, "tokenizer.sample_bytes: expected an integer, got '1GB'"),
        ({"training_memory_bytes": -1}, "tokenizer.training_memory_bytes: -1 must be >= 0"),
    ],
)
def test_bad_tokenizer_settings_are_refused_naming_the_field(mapping, message):
    with pytest.raises(ConfigError) as raised:
        raise_problems(config_from_mapping({"tokenizer": mapping}, Config).tokenizer.problems())
    assert message in str(raised.value)


def test_training_memory_is_checked_against_the_sample_or_the_docs_where_smaller():
    budget = training_memory_needed(50_000_000)
    assert largest_sample_within(budget) == 50_000_000
    fits = TokenizerConfig(sample_bytes=50_000_000, training_memory_bytes=budget)
    check_training_memory(fits, docs_bytes=lambda enough: pytest.fail("the docs need not be measured"))
    too_big = TokenizerConfig(sample_bytes=10**9, training_memory_bytes=budget)
    check_training_memory(too_big, docs_bytes=lambda enough: 40_000_000)  # the docs hold less: fits
    with pytest.raises(ConfigError) as raised:
        check_training_memory(too_big, docs_bytes=lambda enough: enough + 1)
    message = str(raised.value)
    assert message.startswith("tokenizer.sample_bytes: a sample of up to 1000 MB needs about ")
    assert "lower sample_bytes to 50000000 or less, or raise training_memory_bytes" in message
    assert "\n" not in message
    below_the_base = TokenizerConfig(training_memory_bytes=training_memory_needed(0) - 1)
    with pytest.raises(ConfigError, match=r"\(1.0 GB\): raise training_memory_bytes$"):
        check_training_memory(below_the_base, docs_bytes=lambda enough: 1)


# ---------------------------------------------------------------------------
# Real training on small documents


def _write_docs(directory: Path, rows: list[dict]) -> Path:
    docs = directory / "docs"
    docs.mkdir(parents=True)
    for shard in range(2):
        part = sorted((r for i, r in enumerate(rows) if i % 2 == shard), key=lambda r: r["id"])
        (docs / f"part-{shard:05d}.parquet").write_bytes(parquet_bytes(part))
    return docs


@pytest.fixture(scope="module")
def small_docs(tmp_path_factory) -> Path:
    """About 0.5 MB of real English in three sources (paragraphs of the demo books), some of it
    in other scripts, as prepare's docs/*.parquet."""
    rows = []
    for source, name in (("books", "alice29.txt"), ("plays", "asyoulik.txt"), ("essays", "lcet10.txt")):
        text = (REPO_ROOT / "examples" / "corpus" / "books" / name).read_text("ascii").replace("\r\n", "\n")
        paragraphs = [p for p in text[:160_000].split("\n\n") if p.strip()]
        for i in range(0, len(paragraphs), 8):
            body = "\n\n".join(paragraphs[i : i + 8])
            if i % 40 == 0:
                body += "\n\n" + TRICKY
            rows.append(
                {
                    "id": f"{source}:/corpus/{name}:{i}",
                    "source": source,
                    "url": None,
                    "kind": "text",
                    "encoding": "unicode",
                    "text": body,
                }
            )
    return _write_docs(tmp_path_factory.mktemp("small"), rows)


def _docs_files(docs: Path) -> list[str]:
    return [str(path) for path in sorted(docs.glob("*.parquet"))]


def _config(**tokenizer) -> Config:
    settings = dict(vocab_size=400, special_tokens=SPECIALS, heldout_fraction=0.2, sample_bytes=300_000)
    settings.update(tokenizer)
    return Config(tokenizer=TokenizerConfig(**settings))


@pytest.fixture(scope="module")
def reference(tmp_path_factory, small_docs) -> Path:
    """A reference vocabulary trained straight with tokenizers (the place of GPT-2's)."""
    texts = [row["text"] for path in sorted(small_docs.glob("*.parquet")) for row in pq.read_table(path).to_pylist()]
    path = tmp_path_factory.mktemp("reference") / "tokenizer.json"
    path.write_text(train_tokenizer(texts, _config(vocab_size=300).tokenizer, show_progress=False).to_str())
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory, small_docs, reference) -> Path:
    output = tmp_path_factory.mktemp("trained") / "tok"
    config = _config(reference=str(reference))
    config.tokenizer.docs, config.output = str(small_docs), str(output)
    run_train_tokenizer(config, IN_MEMORY)
    return output


def test_sample_and_held_out_slice_are_disjoint_within_budget_and_weighted(tmp_path, small_docs):
    settings = _config(sample_bytes=150_000, source_weights=[SourceWeight("plays", 3.0)]).tokenizer
    run_pipeline(lambda p: p | DrawSample(_docs_files(small_docs), settings, str(tmp_path)), IN_MEMORY, RunnerConfig())
    sample = pq.read_table(tmp_path / "sample").to_pylist()
    heldout = pq.read_table(tmp_path / "heldout").to_pylist()
    everything = pq.read_table(small_docs).to_pylist()
    sample_ids, heldout_ids = {r["id"] for r in sample}, {r["id"] for r in heldout}
    assert sample_ids and heldout_ids and not sample_ids & heldout_ids
    assert {r["source"] for r in heldout} == {"books", "plays", "essays"}
    sample_bytes = {s: sum(len(r["text"].encode()) for r in sample if r["source"] == s) for s in ("books", "plays")}
    corpus_bytes = {s: sum(len(r["text"].encode()) for r in everything if r["source"] == s) for s in ("books", "plays")}
    assert 140_000 < sum(len(r["text"].encode()) for r in sample) <= 150_000  # the cap, not chance
    share = {s: sample_bytes[s] / corpus_bytes[s] for s in sample_bytes}
    assert share["plays"] == pytest.approx(3 * share["books"], rel=0.35)
    stats = json.loads((tmp_path / "sample_stats.json").read_text())
    assert stats["totals"]["documents_in"] == len(everything)
    assert stats["totals"]["sample"]["documents"] == len(sample)
    assert stats["totals"]["heldout"]["bytes"] == sum(len(r["text"].encode()) for r in heldout)
    expected_sample, expected_heldout = _chosen_in_one_process(everything, settings)
    assert (sample_ids, heldout_ids) == (expected_sample, expected_heldout)
    # one file per docs file with such rows, named after it, its rows in its order
    assert {p.name for p in (tmp_path / "sample").iterdir()} == {p.name for p in small_docs.iterdir()}
    for part in (tmp_path / "sample").iterdir():
        ids = pq.read_table(part, columns=["id"]).column("id").to_pylist()
        assert ids == [i for i in pq.read_table(small_docs / part.name).column("id").to_pylist() if i in sample_ids]


def _chosen_in_one_process(rows: list[dict], settings: TokenizerConfig) -> tuple[set[str], set[str]]:
    """(sample ids, held-out ids) as the sample's pure functions choose them, all rows in memory:
    what the Beam stage chose before it read files (tokenizer_training/sample.py before issue 12)."""
    parts: dict[str, list] = {}
    for row in rows:
        source, totals = document_totals(row)
        parts.setdefault(source, []).append(totals)
    plans = plan_sample({source: add_totals(p) for source, p in parts.items()}, settings)
    heldout, candidates = set(), []
    for row in rows:
        fraction, plan = hash_fraction(row["id"]), plans[row["source"]]
        if fraction >= plan.heldout_from:
            heldout.add(row["id"])
        elif (rank := sample_rank(fraction, plan)) is not None:
            candidates.append(((rank, row["id"]), len(row["text"].encode("utf-8"))))
    return {key[1] for key, _ in within_budget(candidates, settings.sample_bytes)}, heldout


def test_no_document_text_crosses_a_shuffle_or_a_side_input(tmp_path, small_docs):
    """Every element that reaches a GroupByKey (Reshuffle and the combines hold one) or is read as
    a side input is measured, pickled: none comes near the size of a document's text."""
    settings = _config(sample_bytes=150_000).tokenizer

    def probe(element):
        beam.metrics.Metrics.distribution("probe", "element_bytes").update(len(pickle.dumps(element)))
        return element

    class Shuffled(beam.pipeline.PipelineVisitor):
        def __init__(self):
            self.collections = {}

        def visit_transform(self, applied):
            if isinstance(applied.transform, beam.GroupByKey):
                self.collections.update((id(c), c) for c in applied.main_inputs.values())
            self.collections.update((id(s.pvalue), s.pvalue) for s in applied.side_inputs)

    pipeline = beam.Pipeline(options=PipelineOptions(IN_MEMORY))
    _ = pipeline | DrawSample(_docs_files(small_docs), settings, str(tmp_path))
    shuffled = Shuffled()
    pipeline.visit(shuffled)
    for i, collection in enumerate(shuffled.collections.values()):
        _ = collection | f"Probe {i}" >> beam.Map(probe)
    result = pipeline.run()
    result.wait_until_finish()
    sizes = {
        m.key.step: m.committed
        for m in result.metrics().query(MetricsFilter().with_name("element_bytes"))["distributions"]
    }
    largest_text = max(len(t.encode()) for t in pq.read_table(small_docs, columns=["text"]).column("text").to_pylist())
    assert len(sizes) == len(shuffled.collections) >= 8  # files, totals, plans, candidates, the cap, counts
    assert sum(size.count for size in sizes.values()) > 100
    # the largest is the list of counts; rows with their text would bring the largest document
    assert 0 < max(size.max for size in sizes.values()) < 1000 and largest_text > 5000


def test_docs_text_size_is_read_from_the_footers_and_only_as_far_as_needed(small_docs):
    files = _docs_files(small_docs)
    texts = [pq.read_table(path, columns=["text"]).column("text").to_pylist() for path in files]
    exact = [sum(len(t.encode()) for t in part) for part in texts]
    # the text column before compression: its bytes, and lengths and page headers
    assert sum(exact) <= docs_text_bytes(files, 10**12) <= 1.02 * sum(exact)
    assert exact[0] <= docs_text_bytes(files, enough=0) < sum(exact)  # the first file passes 0


def test_trained_vocabulary_does_not_depend_on_the_order_of_the_documents(small_docs):
    """The sample reaches the trainer file by file, in no global order: the trainer counts words,
    and breaks ties between pairs by their ids, so any order gives the same vocabulary."""
    texts = pq.read_table(small_docs, columns=["text"]).column("text").to_pylist()
    settings = _config().tokenizer
    orders = (texts, texts[::-1], texts[1::2] + texts[::2])
    [trained] = {tokenizer_json(train_tokenizer(order, settings, show_progress=False)) for order in orders}
    assert trained.count(b'"merges"') == 1


def test_trained_directory_loads_in_transformers_with_end_of_text_as_eos_and_bos(trained):
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    auto = AutoTokenizer.from_pretrained(trained)
    assert (auto.eos_token, auto.bos_token, auto.eos_token_id, auto.bos_token_id) == ("<|endoftext|>",) * 2 + (0, 0)
    assert auto.convert_tokens_to_ids("<|pad|>") == 1 and len(auto) == 400
    direct = PreTrainedTokenizerFast(
        tokenizer_file=str(trained / "tokenizer.json"), eos_token="<|endoftext|>", bos_token="<|endoftext|>"
    )
    assert direct.eos_token_id == 0
    for text in ("Alice was beginning to get very tired", TRICKY, "  leading spaces,\ttabs\n\n\nand newlines  "):
        ids = auto(text)["input_ids"]
        assert ids == direct(text)["input_ids"] == load_tokenizer(str(trained)).encode(text).ids
        assert auto.decode(ids) == direct.decode(ids) == text


def test_special_tokens_are_never_produced_by_plain_text(trained):
    from transformers import AutoTokenizer

    ours = load_tokenizer(str(trained / "tokenizer.json"))
    auto = AutoTokenizer.from_pretrained(trained)
    text = "end<|endoftext|>of text <|pad|><|endoftext|> and <|endoftext|>\n" + TRICKY
    assert special_ids(ours) == {0, 1}
    for ids in (ours.encode(text).ids, auto(text)["input_ids"], auto.encode(text)):
        assert not set(ids) & {0, 1}
        assert ours.decode(ids) == text


def test_report_measures_held_out_documents_beside_the_reference(trained, reference):
    report = json.loads((trained / "tokenizer_report.json").read_text())
    ours, ref = report["heldout"]["ours"], report["heldout"]["reference"]
    assert report["reference"] == str(reference)
    assert set(ours["sources"]) == set(ref["sources"]) == {"books", "plays", "essays"}
    for figures in (ours["total"], ref["total"]):
        assert figures["round_trip_failures"] == 0 and figures["bytes_per_token"] > 1.2
    # 400 tokens pack more bytes than 300 of the same style
    assert ours["total"]["bytes_per_token"] > ref["total"]["bytes_per_token"]
    assert ours["total"]["documents"] == report["sample"]["totals"]["heldout"]["documents"]
    assert 0 < ours["vocabulary_used_share"] <= 1 and ours["round_trip_exact"]
    longest = report["longest_tokens"]["ours"]
    assert len(longest) == 20 and longest[0]["bytes"] >= longest[-1]["bytes"]
    assert report["tokenizer"]["end_of_text"] == {"token": "<|endoftext|>", "id": 0}
    assert (trained / "tokenizer_report.png").read_bytes().startswith(b"\x89PNG")
    assert json.loads((trained / "_SUCCESS").read_text())["stage"] == "train-tokenizer"
    assert not (trained / ".incomplete").exists()


def test_same_docs_and_config_give_byte_identical_outputs_across_runs_and_running_modes(
    tmp_path, small_docs, reference, trained, capsys
):
    """The fixture ran in memory through the API; this runs the CLI, multi-process, from a config file."""
    again = tmp_path / "again"
    config_file = tmp_path / "run.yaml"
    config_file.write_text(yaml.safe_dump({"tokenizer": {**vars(_config().tokenizer), "source_weights": []}}))
    assert (
        main(
            [
                "train-tokenizer",
                "--docs",
                str(small_docs),
                "--output",
                str(again),
                "--config",
                str(config_file),
                "--reference",
                str(reference),
                "--",
                *MULTI_PROCESS,
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "bytes/token" in printed and "TOTAL" in printed and "round trip" in printed
    for name in (
        "tokenizer.json",
        "tokenizer_config.json",
        "special_tokens_map.json",
        "tokenizer_report.json",
        "tokenizer_report.png",
    ):
        assert (again / name).read_bytes() == (trained / name).read_bytes(), name


def test_bad_arguments_fail_before_any_work_naming_the_value(tmp_path, small_docs, capsys):
    output = tmp_path / "tok"
    base = ["train-tokenizer", "--docs", str(small_docs), "--output", str(output)]
    assert main(["train-tokenizer", "--docs", str(tmp_path), "--output", str(output)]) == 2
    assert f"tokenizer.docs: {str(tmp_path)!r} holds no *.parquet file" in capsys.readouterr().err
    assert main(["train-tokenizer", "--docs", str(small_docs), "--output", str(small_docs.parent)]) == 2
    assert "would overwrite prepare's outputs" in capsys.readouterr().err
    assert main(base + ["--vocab-size", "20"]) == 2
    assert "tokenizer.vocab_size: 20" in capsys.readouterr().err
    assert main(base + ["--weight", "books"]) == 2
    assert "--weight: 'books'" in capsys.readouterr().err
    not_a_tokenizer = tmp_path / "nope.json"
    not_a_tokenizer.write_text('{"model": 1}')
    assert main(base + ["--reference", str(not_a_tokenizer)]) == 2
    assert f"tokenizer.reference: cannot load {str(not_a_tokenizer)!r}" in capsys.readouterr().err
    too_little = tmp_path / "little.yaml"  # room for 100 KB of sample; the docs hold 0.5 MB
    too_little.write_text(f"tokenizer: {{training_memory_bytes: {training_memory_needed(100_000)}}}\n")
    assert main(base + ["--config", str(too_little)]) == 2
    assert "tokenizer.sample_bytes: a sample of up to 1000 MB needs about" in capsys.readouterr().err
    assert (
        main(base + ["--config", str(too_little), "--sample-bytes", "100000", "--reference", str(not_a_tokenizer)]) == 2
    )
    assert "tokenizer.reference: cannot load" in capsys.readouterr().err  # the memory check passed
    assert not output.exists()


# ---------------------------------------------------------------------------
# The real corpora, cleaned by prepare (conftest's corpora_run, with the default settings)


@pytest.mark.slow  # the session's corpora_run, and every document of it encoded and decoded
def test_round_trip_is_exact_for_every_cleaned_corpus_document(trained, corpora_run):
    """Byte-level BPE must give decode(encode(x)) == x for any text: checked with a vocabulary
    trained on English alone, over the start (50,000 characters) of every document of the corpora
    (many languages and scripts): the books' whole text would take three times as long."""
    tokenizer = load_tokenizer(str(trained))
    rows = pq.read_table(corpora_run / "prepare" / "docs", columns=["id", "text"]).to_pylist()
    assert len({row["id"].split(":")[0] for row in rows}) == 3
    for row in rows:
        row["text"] = row["text"][:50_000]
    encodings = tokenizer.encode_batch([row["text"] for row in rows])
    decoded = tokenizer.decode_batch([e.ids for e in encodings], skip_special_tokens=False)
    assert [row["id"] for row, back in zip(rows, decoded) if back != row["text"]] == []
    assert not any(set(e.ids) & special_ids(tokenizer) for e in encodings)
