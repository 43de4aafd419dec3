"""bench/decontamination.py's ground truth: the reference matcher, and the injections it must see through."""

import numpy as np

from bench.decontamination import (
    KINDS,
    WRAP_WORDS,
    EvaluationSet,
    ReferenceMatcher,
    accuracy,
    embedded,
    evaluation_set,
    man_page_text,
    matcher_words,
    near_miss,
    rate_bound,
    rest_sections,
    rewrapped,
    with_case_and_punctuation_changed,
)

ITEM = (
    "It was the best of times, it was the worst of times, it was the age of wisdom, "
    "it was the age of foolishness"
)  # 24 words
SHORT_ITEM = "Call me Ishmael, some years ago, never mind how long precisely"  # 11 words


def random_text(rng: np.random.Generator, words: int) -> str:
    """Words drawn from a made-up vocabulary of 2000, lines of 12 and a blank line every 96 words:
    no 13 words in a row recur by chance."""
    vocabulary = [f"w{i}x" for i in range(2000)]
    drawn = [vocabulary[i] for i in rng.integers(len(vocabulary), size=words)]
    lines = [" ".join(drawn[i : i + 12]) for i in range(0, words, 12)]
    return "\n".join(line + ("\n" if n % 8 == 7 else "") for n, line in enumerate(lines))


def test_matcher_words_fold_case_compatibility_forms_and_punctuation():
    assert matcher_words("\ufb01ne \u2014 STRASSE, Stra\u00dfe!\n'Tis") == ("fine", "strasse", "strasse", "tis")


def test_long_item_is_found_by_one_shared_13_gram_and_not_by_12():
    matcher = ReferenceMatcher([ITEM])
    words = ITEM.split()
    assert matcher.matches("so " + " ".join(words[5:18]) + " and so on") == {0: [" ".join(matcher_words(ITEM)[5:18])]}
    assert matcher.matches("so " + " ".join(words[5:17]) + " and so on") == {}


def test_short_item_is_found_only_whole():
    matcher = ReferenceMatcher([SHORT_ITEM])
    assert list(matcher.matches(f"He said: {SHORT_ITEM.upper()}; and left.")) == [0]
    assert matcher.matches(SHORT_ITEM.rsplit(" ", 1)[0]) == {}


def test_injections_change_lines_case_and_punctuation_but_not_the_words():
    rng = np.random.default_rng(1)
    for item in (ITEM, SHORT_ITEM):
        changed = with_case_and_punctuation_changed(item, rng)
        assert changed != item and matcher_words(changed) == matcher_words(item)
        assert all(len(line.split()) <= WRAP_WORDS for line in rewrapped(item).splitlines())
        assert matcher_words(rewrapped(item)) == matcher_words(item)


def test_embedded_item_sits_inside_ten_times_its_length_of_other_text():
    rng = np.random.default_rng(1)
    inside = embedded(random_text(rng, 2000), ITEM, rng)
    assert ITEM in inside and abs(len(inside) - 11 * len(ITEM)) <= 20


def test_evaluation_set_injects_each_item_once_per_kind_misses_it_once_and_leaves_controls_clean():
    rng = np.random.default_rng(2)
    books = [{"id": f"books:b{i}:0", "source": "books", "text": random_text(rng, 8000)} for i in range(8)]
    pages = [{"id": f"web:p{i}:0", "source": "web", "text": random_text(rng, 300)} for i in range(20)]
    evaluation = evaluation_set(books + pages, seed=0, long_items=6, short_items=2)
    matcher = ReferenceMatcher([item["text"] for item in evaluation.items])
    assert len(evaluation.item_sources) == 2 and len(evaluation.hosts) == 8 * len(KINDS)
    assert [item["words"] >= 13 for item in evaluation.items] == [True] * 6 + [False] * 2
    for host in evaluation.hosts.values():
        assert host["origin"] not in evaluation.item_sources
        assert list(matcher.matches(host["text"])) == [host["item"]]
    assert sorted(n["item"] for n in evaluation.near_misses.values()) == list(range(8))
    assert not any(matcher.matches(n["text"]) for n in evaluation.near_misses.values())
    assert evaluation.controls and not any(matcher.matches(c["text"]) for c in evaluation.controls.values())


def test_a_control_that_really_holds_an_item_is_a_natural_match_not_a_false_positive():
    evaluation = EvaluationSet(
        items=[{"text": ITEM, "words": 24, "source": "books:a:0"}],
        hosts={"h0": {"text": "", "item": 0, "kind": "verbatim", "origin": "web:b:0"}},
        controls={"c0": {"text": "", "origin": "books:c:0"}, "c1": {"text": "", "origin": "books:d:0"}},
    )
    truth = {"h0": {0: ["it was"]}, "c0": {0: ["it was"]}}  # by the reference: c0 quotes the item
    flagged = {doc: {"id": f"s:f:{doc}", "items": ["bench:items.jsonl:1"], "ngrams": []} for doc in ("h0", "c0", "c1")}
    result = accuracy(evaluation, truth, flagged)
    assert result["recall"] == {"long verbatim": {"injected": 1, "lost": 0, "found": 1}}
    assert result["natural_matches"] == [("c0", 0)] and result["natural_matches_found"] == 1
    assert result["controls"] == {"documents": 2, "holding_an_item": 1, "flagged": 2, "false_positives": 1}
    assert result["controls_by_source"] == {"books": result["controls"]}
    assert [fp["id"] for fp in result["false_positive_documents"]] == ["s:f:c1"]


def test_evaluation_set_cuts_items_from_the_named_source_only():
    rng = np.random.default_rng(3)
    sections = [{"id": f"docs:p{i}:0", "source": "docs", "text": random_text(rng, 400)} for i in range(40)]
    pages = [{"id": f"man:m{i}:0", "source": "man", "text": random_text(rng, 1500)} for i in range(20)]
    evaluation = evaluation_set(sections + pages, seed=0, long_items=4, short_items=1, item_source="docs")
    assert len(evaluation.item_sources) == 10 and all(s.startswith("docs:") for s in evaluation.item_sources)
    assert {item["source"] for item in evaluation.items} <= set(evaluation.item_sources)


def test_rest_sections_start_at_each_heading_with_its_overline():
    page = "=====\nTitle\n=====\n\nIntro text.\n\nUsage\n-----\n\nCall it.\n\n.. note::\n   ---\n   Short.\n"
    assert rest_sections("Preamble.\n\n" + page) == [
        "Preamble.",
        "=====\nTitle\n=====\n\nIntro text.",
        "Usage\n-----\n\nCall it.\n\n.. note::\n   ---\n   Short.",
    ]


def test_man_page_text_keeps_the_words_and_drops_roff():
    roff = '.\\" a comment\n.TH OPEN 2\n.SH NAME\nopen \\- open a \\fBfile\\fP\n.BR close (2)\n.PP\nIt\\(aqs done.\n'
    assert man_page_text(roff) == "OPEN 2\nNAME\nopen - open a file\nclose (2)\n\nIts done."


def test_rate_bound_is_the_rule_of_three_for_no_false_positive():
    assert abs(rate_bound(0, 1195) - 0.002504) < 1e-5  # 1 - 0.05 ** (1 / 1195)
    assert rate_bound(0, 3000) < 0.001 < rate_bound(0, 2900)
    assert abs(rate_bound(1, 10_000) - 4.74e-4) < 1e-6


def test_near_miss_counts_words_as_the_matcher_does():
    rng = np.random.default_rng(4)
    rest = "3.3.3 and earlier. exitcode has the same value as :attr:`~Popen.returncode`. .. versionadded:: 3.11 Added"
    short = "is between ``-pi/2`` and ``pi/2``. .. function:: atan2(y, x) Return"  # 12 words in 9 tokens
    matcher = ReferenceMatcher([rest, short])
    assert matcher.matches(rest + " " + short).keys() == {0, 1}
    assert matcher.matches(near_miss(rest, rng, ["zz"]) + " " + near_miss(short, rng, ["zz"])) == {}
