"""The filter stage without Beam: the Verdict contract, steps per source, chaining, configuration."""

import dataclasses

import pytest

from pipeline.config import Config, defaults_as_yaml
from tests.helpers import PROSE, corpus_file_text
from transforms.filters import KEEP, Verdict
from transforms.filters.gopher_quality import GopherQuality
from transforms.filters.stage import (
    STEPS,
    FiltersConfig,
    SourceSteps,
    Steps,
    filter_document,
    is_web_document,
    rejected_row,
)
from transforms.readers import InputSpec
from transforms.settings import ConfigError, config_from_mapping


def _row(text: str, source: str = "web", kind: str = "html", container: str = "file") -> dict:
    return {
        "id": f"{source}:/x:0",
        "source": source,
        "url": None,
        "kind": kind,
        "container": container,
        "encoding": "unicode",
        "text": text,
    }


def test_a_verdict_has_a_reason_exactly_when_it_drops():
    assert KEEP.keep and KEEP.reason is None
    assert GopherQuality().drop("stop_words") == Verdict(False, "gopher_quality.stop_words")
    with pytest.raises(ValueError):
        Verdict(keep=False)
    with pytest.raises(ValueError):
        Verdict(keep=True, reason="gopher_quality.word_count")


def test_every_registered_step_has_its_settings_section_in_filters():
    fields = {f.name: f for f in dataclasses.fields(FiltersConfig)}
    for name, step in STEPS.items():
        assert step.name == name
        assert isinstance(getattr(FiltersConfig(), name), step.settings), name
        assert fields[name].metadata["doc"], name


@pytest.mark.parametrize(
    "kind, container, web",
    [
        ("html", "file", True),
        ("text", "file", False),
        ("text", "warc", True),
        ("text", "jsonl", True),
        ("text", "parquet", True),
        ("html", "warc", True),
    ],
)
def test_a_plain_text_file_read_whole_is_a_book_everything_else_is_web(kind, container, web):
    assert is_web_document(_row("x", kind=kind, container=container)) is web


def test_sources_listed_in_the_config_override_the_book_or_web_default():
    config = FiltersConfig(sources=[SourceSteps("wiki", ["c4"])])
    assert config.steps_for("wiki", web=True) == ["c4"]
    assert config.steps_for("other", web=True) == config.web
    assert config.steps_for("other", web=False) == config.books
    assert "fineweb" in config.web and "c4" in config.web and "pii" in config.web
    assert not {"fineweb", "c4", "pii"} & set(config.books)


def test_steps_run_in_order_on_the_edited_text_until_one_drops():
    steps = Steps(FiltersConfig())
    page = "Menu\n\n" + PROSE + "\n\nWrite to ed@harbour.org about it, said the editor today."
    result = filter_document(_row(page), [steps.step("c4"), steps.step("pii")])
    assert result.reason is None
    assert result.row["text"].startswith("The harbour") and "email@example.com" in result.row["text"]
    assert result.counts == {"lines_removed.c4.no_terminal_punctuation": 1, "pii.email": 1}
    assert result.row["language"] is None  # no language step ran

    dropped = filter_document(_row("Too short."), [steps.step("gopher_quality"), steps.step("pii")])
    assert (dropped.row, dropped.reason) == (None, "gopher_quality.word_count")
    rejected = rejected_row(_row("Too short."), dropped)
    assert rejected["reason"] == "gopher_quality.word_count" and rejected["text"] == "Too short."


# A page whose navigation lines carry it past Gopher's 50 words; C4 removes them (no terminal
# punctuation) and leaves three sentences, 22 words.
NAVIGATION_PAGE = (
    "Home News Sport Weather Travel Culture Opinion Podcasts Video Live\n"
    "Subscribe to the newsletter and follow us on every network today\n"
    "Most read stories of the week in the region and beyond\n"
    "Contact the newsroom with tips and corrections at any hour\n\n"
    "The ferry was late again this morning. Passengers waited on the quay for an hour. "
    "The harbour master blamed the fog."
)


def test_a_page_that_passes_the_word_count_only_before_c4_removes_lines_is_dropped():
    steps = Steps(FiltersConfig())
    gopher, c4 = steps.step("gopher_quality"), steps.step("c4")
    assert gopher.keep(NAVIGATION_PAGE).keep and len(c4.keep(NAVIGATION_PAGE).text.split()) < 50

    result = filter_document(_row(NAVIGATION_PAGE), [gopher, steps.step("fineweb"), c4, steps.step("pii")])
    assert (result.row, result.reason) == (None, "gopher_quality.word_count_after_c4")
    assert result.counts == {"lines_removed.c4.no_terminal_punctuation": 4}  # what C4 did is counted still
    assert rejected_row(_row(NAVIGATION_PAGE), result)["text"] == NAVIGATION_PAGE  # as it entered the stage

    # Without the word-count rule before it, C4's edit stands: only steps already passed re-check.
    assert filter_document(_row(NAVIGATION_PAGE), [c4, gopher]).reason == "gopher_quality.word_count"
    assert filter_document(_row(NAVIGATION_PAGE), [c4]).row["text"].startswith("The ferry")


def test_stop_words_are_checked_again_after_an_edit():
    # 60 words; the only stop words ("the", "and") are in the line C4 removes.
    sentences = " ".join(f"Sentence number {i} reads plainly, then ends here." for i in range(8))
    page = "Read the archive and subscribe\n\n" + sentences
    steps = Steps(FiltersConfig())
    result = filter_document(_row(page), [steps.step("gopher_quality(min_words=20)"), steps.step("c4")])
    assert result.reason == "gopher_quality.stop_words_after_c4"


def test_a_document_of_a_source_without_steps_passes_unchanged():
    config = FiltersConfig(sources=[SourceSteps("raw", [])])
    row = _row("x", source="raw")
    result = filter_document(row, Steps(config).for_row(row))
    assert result.row == {**row, "language": None, "language_score": None}


def test_step_overrides_apply_to_their_list_only_and_the_language_model_is_loaded_once():
    steps = Steps(FiltersConfig(sources=[SourceSteps("lenient", ["language(min_score=0.1)"])]))
    steps.build_all()  # what each worker does in setup()
    assert steps.step("gopher_quality(max_words=0)").config.max_words == 0
    assert steps.step("gopher_quality").config.max_words == 100_000
    strict, lenient = steps.step("language"), steps.step("language(min_score=0.1)")
    assert strict.identifier is lenient.identifier
    assert (strict.config.min_score, lenient.config.min_score) == (0.65, 0.1)


def test_a_novel_is_kept_by_book_steps_and_dropped_by_web_steps(corpora):
    novel = corpus_file_text(corpora, "books/c-w__gutenberg/tests/data/raw-texts/2701", "text")
    steps = Steps(FiltersConfig())
    as_book = _row(novel, source="books", kind="text")
    assert filter_document(as_book, steps.for_row(as_book)).row is not None
    as_web_text = _row(novel, source="books", kind="text", container="jsonl")
    assert filter_document(as_web_text, steps.for_row(as_web_text)).reason == "gopher_quality.word_count"


# ---------------------------------------------------------------------------
# Configuration


def test_the_filters_section_is_printed_documented_and_loads_back(tmp_path):
    printed = defaults_as_yaml()
    for key in (
        "web",
        "books",
        "sources",
        "write_rejected",
        "allowed",
        "min_score",
        "model_path",
        "max_symbol_word_ratio",
        "max_duplicate_10gram_char_fraction",
        "min_words_per_line",
        "max_newlines_per_word",
        "email_placeholder",
    ):
        lines = printed.splitlines()
        line = next(i for i, text in enumerate(lines) if text.strip().startswith(f"{key}:"))
        assert lines[line - 1].strip().startswith("#"), key
    path = tmp_path / "defaults.yaml"
    path.write_text(printed)
    from pipeline.config import load_config_file

    assert load_config_file(path).filters == FiltersConfig()


@pytest.mark.parametrize(
    "filters, message",
    [
        ({"web": ["gopher"]}, "filters.web[0]: 'gopher' is not a filter step"),
        ({"books": ["c4", "c4(min_sentences=1)"]}, "filters.books: ['c4', 'c4(min_sentences=1)'] names a step twice"),
        ({"books": ["gopher_quality(max_words=many)"]}, "max_words: expected an integer, got 'many'"),
        ({"books": ["gopher_quality(stop_words=the)"]}, "'stop_words' is not a scalar field of filters.gopher_quality"),
        (
            {"sources": [{"source": "a", "steps": ["pii"]}, {"source": "a", "steps": []}]},
            "filters.sources[1].source: 'a' must be a source name, listed once",
        ),
        (
            {"fineweb": {"max_short_line_fraction": 1.5}},
            "filters.fineweb.max_short_line_fraction: 1.5 must be between 0 and 1",
        ),
        ({"language": {"allowed": ["en", "english!"]}}, "filters.language.allowed[1]: 'english!'"),
        ({"gopher_quality": {"min_mean_word_length": 12}}, "filters.gopher_quality.min_mean_word_length: 12"),
        (
            {"language": {"model_path": "/nowhere/lid.176.bin"}},
            "filters.language.model_path: '/nowhere/lid.176.bin' is not a file",
        ),
    ],
)
def test_bad_filter_settings_are_refused_naming_the_field(filters, message):
    mapping = {"inputs": [{"name": "a", "glob": "x"}], "output": "o", "filters": filters}
    with pytest.raises(ConfigError) as raised:
        config_from_mapping(mapping, Config).validate()
    assert message in str(raised.value)


def test_per_source_steps_load_from_a_config_file():
    config = config_from_mapping({"filters": {"sources": [{"source": "wiki", "steps": ["language", "c4"]}]}}, Config)
    assert config.filters.sources == [SourceSteps("wiki", ["language", "c4"])]
    valid = dataclasses.replace(config, inputs=[InputSpec("wiki", "x")], output="o")
    assert isinstance(valid, Config)
    valid.validate()
