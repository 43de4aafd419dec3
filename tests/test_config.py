"""The run configuration: defaults, files, and errors that name the bad value."""

import pytest

from pipeline.cli import main
from pipeline.config import Config, defaults_as_yaml, load_config_file, parse_input_arg
from transforms.settings import ConfigError, config_and_problems, config_from_mapping, with_value_problems


def test_printed_defaults_load_back_as_the_defaults(tmp_path, capsys):
    assert main(["config", "--print-defaults"]) == 0
    printed = capsys.readouterr().out
    assert printed == defaults_as_yaml()
    path = tmp_path / "defaults.yaml"
    path.write_text(printed)
    config = load_config_file(path)
    config.validate()
    assert config.clean.strip_gutenberg is True
    assert config.read.max_document_bytes == 64 * 1024 * 1024


def test_every_field_is_documented_in_the_printed_defaults():
    printed = defaults_as_yaml()
    for key in (
        "text_field",
        "url_field",
        "max_document_bytes",
        "strip_gutenberg",
        "fix_unicode",
        "code_blocks",
        "min_chars",
        "shard_target_bytes",
        "direct_num_workers",
    ):
        line = next(i for i, text in enumerate(printed.splitlines()) if text.strip().startswith(f"{key}:"))
        assert printed.splitlines()[line - 1].strip().startswith("#"), key


def test_toml_config_is_read(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text(
        'output = "out"\n[[inputs]]\nname = "web"\nglob = "pages/*.html"\nkind = "html"\n[clean]\nmin_chars = 50\n'
    )
    config = load_config_file(path)
    config.validate()
    assert (config.inputs[0].kind, config.clean.min_chars) == ("html", 50)


@pytest.mark.parametrize(
    "mapping, message",
    [
        ({"clean": {"min_chars": "lots"}}, "clean.min_chars: expected an integer, got 'lots'"),
        ({"clean": {"strip_gutenberg": "yes"}}, "clean.strip_gutenberg: expected true or false, got 'yes'"),
        ({"clean": {"fix_mojibake": True}}, "clean.fix_mojibake: unknown field"),
        ({"inputs": [{"name": "a"}]}, "inputs[0].glob"),
        ({"inputs": "books/*.txt"}, "inputs: expected a list, got 'books/*.txt'"),
    ],
)
def test_bad_values_are_refused_naming_the_field_and_value(mapping, message):
    with pytest.raises(ConfigError) as raised:
        config_from_mapping(mapping, Config)
    assert message in str(raised.value)


@pytest.mark.parametrize(
    "mapping, message",
    [
        ({"output": "o"}, "inputs: at least one input"),
        ({"inputs": [{"name": "a", "glob": "x", "kind": "pdf"}], "output": "o"}, "inputs[0].kind: 'pdf'"),
        ({"inputs": [{"name": "a b", "glob": "x"}], "output": "o"}, "inputs[0].name: 'a b'"),
        ({"inputs": [{"name": "a", "glob": "x"}]}, "output: an output directory is required"),
        (  # ids hold paths below each input's root: x/a.txt and y/a.txt would both be a:a.txt:0
            {"inputs": [{"name": "a", "glob": "x/*"}, {"name": "a", "glob": "y/*"}], "output": "o"},
            "inputs[1].name: 'a' names an earlier input too",
        ),
        (
            {"inputs": [{"name": "a", "glob": "x"}], "output": "o", "write": {"shard_target_bytes": 0}},
            "write.shard_target_bytes: 0 must be > 0",
        ),
        (
            {"inputs": [{"name": "a", "glob": "x"}], "output": "o", "clean": {"code_blocks": "fence"}},
            "clean.code_blocks: 'fence' must be one of keep, drop, mark",
        ),
    ],
)
def test_validation_names_the_field(mapping, message):
    with pytest.raises(ConfigError) as raised:
        config_from_mapping(mapping, Config).validate()
    assert message in str(raised.value)


def test_input_argument_forms():
    assert (parse_input_arg("web=crawl/*.warc.gz").name, parse_input_arg("web=crawl/*.warc.gz").kind) == ("web", "auto")
    spec = parse_input_arg("books:text=gs://bucket/books/*")
    assert (spec.name, spec.kind, spec.glob) == ("books", "text", "gs://bucket/books/*")
    with pytest.raises(ConfigError, match="NAME=GLOB"):
        parse_input_arg("no-equals-sign")


def test_unreadable_or_malformed_config_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_config_file(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("inputs: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid"):
        load_config_file(bad)


def test_every_problem_of_a_config_file_wrong_types_and_wrong_values_is_listed_at_once(tmp_path, capsys):
    path = tmp_path / "run.yaml"
    path.write_text(
        "inputs: [{name: books, glob: 'b/*.txt', kind: pdf}, {glob: 3}]\n"
        "clean: {min_chars: lots, fix_mojibake: true, code_blocks: fence}\n"
        "filters: {gopher_quality: {max_words: many, min_words: -1}}\n"
        "dedup: {seed: x, ngram: 0, threshold: 2.0}\n"
    )
    assert main(["prepare", "--config", str(path), "--output", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.splitlines() == [
        "textshards: 11 config errors:",
        "  inputs[1].name: required",
        "  inputs[1].glob: expected a string, got 3",
        "  clean.fix_mojibake: unknown field (known: strip_gutenberg, fix_unicode, code_blocks, min_chars)",
        "  clean.min_chars: expected an integer, got 'lots'",
        "  filters.gopher_quality.max_words: expected an integer, got 'many'",
        "  dedup.seed: expected an integer, got 'x'",
        # inputs[1] holds stand-ins for its refused name and glob: nothing more is said of them
        "  inputs[0].kind: 'pdf' is not one of auto, text, html, warc, jsonl, parquet, hf",
        "  clean.code_blocks: 'fence' must be one of keep, drop, mark",
        "  filters.gopher_quality.min_words: -1 must be >= 0",
        "  dedup.ngram: 0 must be > 0",
        "  dedup.threshold: 2.0 must be between 0 and 1 (exclusive)",
    ]
    assert "Traceback" not in err and not (tmp_path / "out").exists()


def test_tokenize_lists_the_wrong_types_of_the_file_with_the_problems_of_the_settings_it_reads(tmp_path, capsys):
    path = tmp_path / "run.yaml"
    path.write_text("clean: {code_blocks: fence}\ntokenize: {seed: x, seq_len: 0}\n")
    assert main(["tokenize", "--config", str(path)]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "textshards: 5 config errors:",
        "  tokenize.seed: expected an integer, got 'x'",
        "  tokenize.seq_len: 0 must be > 0",
        "  output: an output directory is required (--output DIR)",
        "  tokenize.docs: the documents directory of prepare is required (--docs DIR/docs)",
        "  tokenize.tokenizer: a tokenizer.json or its directory is required (--tokenizer PATH)",
    ]


def test_a_refused_list_item_leaves_the_list_at_its_default_and_says_no_more_of_it():
    loaded, problems = config_and_problems({"inputs": ["books/*.txt"], "output": "o"}, Config)
    assert loaded.inputs == [] and problems == ["inputs[0]: expected a mapping, got 'books/*.txt'"]
    assert with_value_problems(problems, loaded.problems()) == problems  # not "inputs: at least one input"


def _validation_problems(mapping: dict) -> list[str]:
    with pytest.raises(ConfigError) as raised:
        config_from_mapping(mapping, Config).validate()
    return raised.value.problems


def test_validation_lists_the_problem_of_every_section_and_input():
    mapping = {
        "inputs": [{"name": "a b", "glob": "x"}, {"name": "web", "glob": ""}],
        "dedup": {"threshold": 2.0},
        "tokenize": {"validation_fraction": 1.0},
    }
    assert _validation_problems(mapping) == [
        "output: an output directory is required (--output DIR)",
        "inputs[0].name: 'a b' must be non-empty without ':', '/', '=' or spaces",
        "inputs[1].glob: must not be empty",
        "dedup.threshold: 2.0 must be between 0 and 1 (exclusive)",
        "tokenize.validation_fraction: 1.0 must be in [0, 1)",
    ]


def test_validation_lists_every_problem_of_each_section_not_only_the_first():
    mapping = {
        "inputs": [{"name": "a b", "glob": "", "kind": "pdf"}],
        "output": "o",
        "read": {"max_document_bytes": 0, "split_bytes": -1},
        "clean": {"min_chars": -1, "code_blocks": "fence"},
        "write": {"shard_target_bytes": 0},
        "runner": {"direct_num_workers": -1, "progress_seconds": -1},
        "filters": {
            "web": ["c4", "nope", "c4", "gopher_quality(min_words=-1, colour=red)"],
            "language": {"allowed": ["en", "", "english!"], "min_score": 2},
            "fineweb": {"max_short_line_fraction": 1.5, "short_line_chars": -1},
        },
        "dedup": {"ngram": 0, "threshold": 2.0, "verify": "maybe"},
        "tokenizer": {"vocab_size": 100, "min_frequency": 0},
        "tokenize": {"encoder": "fast", "seq_len": 0},
        "run": {"stages": ["tokenize", "prepare"], "train": {"shards": "x"}},
    }
    assert _validation_problems(mapping) == [
        "inputs[0].name: 'a b' must be non-empty without ':', '/', '=' or spaces",
        "inputs[0].glob: must not be empty",
        "inputs[0].kind: 'pdf' is not one of auto, text, html, warc, jsonl, parquet, hf",
        "read.max_document_bytes: 0 must be > 0",
        "read.split_bytes: -1 must be > 0",
        "clean.min_chars: -1 must be >= 0",
        "clean.code_blocks: 'fence' must be one of keep, drop, mark",
        "write.shard_target_bytes: 0 must be > 0",
        "runner.direct_num_workers: -1 must be >= 0",
        "runner.progress_seconds: -1.0 must be >= 0",
        "filters.language.allowed[1]: '' is not a language code (en, de, ...)",
        "filters.language.allowed[2]: 'english!' is not a language code (en, de, ...)",
        "filters.language.min_score: 2.0 must be between 0 and 1",
        "filters.fineweb.max_short_line_fraction: 1.5 must be between 0 and 1",
        "filters.fineweb.short_line_chars: -1 must be >= 0",
        "filters.web[1]: 'nope' is not a filter step (language, gopher_quality, gopher_repetition, "
        "book_repetition, fineweb, c4, pii), optionally with overrides: step(field=value, ...)",
        "filters.web[3]: 'gopher_quality(min_words=-1, colour=red)': 'colour' is not a scalar field "
        "of filters.gopher_quality",
        "filters.web[3]: gopher_quality(min_words=-1, colour=red).min_words: -1 must be >= 0",
        "filters.web: ['c4', 'nope', 'c4', 'gopher_quality(min_words=-1, colour=red)'] names a step twice",
        "dedup.ngram: 0 must be > 0",
        "dedup.threshold: 2.0 must be between 0 and 1 (exclusive)",
        "dedup.verify: 'maybe' is not one of signature, exact, none",
        "tokenizer.vocab_size: 100 must be at least 257 (256 bytes + 1 special tokens)",
        "tokenizer.min_frequency: 0 must be > 0",
        "tokenize.encoder: 'fast' is not one of auto, tiktoken, tokenizers",
        "tokenize.seq_len: 0 must be > 0",
        "run.stages: ['tokenize', 'prepare'] must list each stage once, in the order prepare, "
        "train-tokenizer, tokenize, train",
        "run.train.shards: 'x': the run trains on its own shards (OUTPUT/shards); leave it out",
    ]


def test_a_per_source_setting_naming_no_input_is_a_config_error():
    mapping = {
        "inputs": [{"name": "books", "glob": "b/*"}, {"name": "web", "glob": "w/*"}],
        "output": "out",
        "filters": {"sources": [{"source": "bookz", "steps": []}, {"source": "web", "steps": []}]},
        "dedup": {"source_priority": ["books", "wbe"]},
        "tokenizer": {"source_weights": [{"source": "web", "weight": 2}]},
        "tokenize": {"source_weights": [{"source": "pdfs", "weight": 0}]},
    }
    assert _validation_problems(mapping) == [
        "filters.sources[0]: 'bookz' is no source of the inputs (sources: books, web)",
        "dedup.source_priority[1]: 'wbe' is no source of the inputs (sources: books, web)",
        "tokenize.source_weights[0]: 'pdfs' is no source of the inputs (sources: books, web)",
    ]


def test_a_weight_naming_no_prepared_source_fails_tokenize_before_any_work(tmp_path, capsys):
    prepared = tmp_path / "prepared"
    (prepared / "docs").mkdir(parents=True)
    (prepared / "docs" / "part-00000.parquet").write_bytes(b"")  # listed, never read
    (prepared / "stats.json").write_text('{"sources": {"books": {}, "web": {}}, "totals": {}}')
    argv = ["--docs", str(prepared / "docs"), "--output", str(tmp_path / "out"), "--weight", "bookz=2"]
    assert main(["tokenize", "--tokenizer", str(tmp_path / "no-tokenizer"), *argv]) == 2
    expected = f"'bookz' is no source of {prepared / 'stats.json'} (sources: books, web)"
    assert capsys.readouterr().err == f"textshards: config error: tokenize.source_weights[0]: {expected}\n"
    assert main(["train-tokenizer", *argv]) == 2
    assert capsys.readouterr().err == f"textshards: config error: tokenizer.source_weights[0]: {expected}\n"
    assert not (tmp_path / "out").exists()
