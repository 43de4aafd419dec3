"""C4's line and page rules, as TFDS's clean_page applies them, with the T5 paper's thresholds."""

import pytest

from tests.helpers import CC_JSONL, PROSE, corpus_file_text, corpus_jsonl_text, corpus_jsonl_texts
from transforms.filters import KEEP
from transforms.filters.c4 import C4, POLICY_PHRASES, C4Config, _fewer_words, _mentions_policy, count_sentences

C4_RULES = C4()
SENTENCES = (
    "The first sentence stands on its own line.\nA second one follows it here today.\n"
    "And the third one closes this short page."
)


def test_prose_passes_untouched():
    assert C4_RULES.keep(PROSE) == KEEP


def test_lines_without_terminal_punctuation_are_removed_and_paragraphs_kept():
    verdict = C4_RULES.keep("Weather report\n\n" + PROSE + "\n\nShare this article\nRead more")
    assert verdict.keep and verdict.text == PROSE
    assert verdict.counts == {"lines_removed.c4.no_terminal_punctuation": 3}


@pytest.mark.parametrize(
    "ending, kept",
    [
        (".", True),
        ("!", True),
        ("?", True),
        ('."', True),
        (".”", True),
        ("...", False),
        ("…", False),
        (":", False),
        (",", False),
    ],
)
def test_which_line_endings_count_as_terminal_punctuation(ending, kept):
    line = "This line has more than five words in it" + ending
    verdict = C4_RULES.keep(SENTENCES + "\n" + line)
    assert (line in (verdict.text or SENTENCES + "\n" + line)) is kept


def test_lines_need_five_words_as_the_t5_paper_says():
    verdict = C4_RULES.keep(SENTENCES + "\nFour words end here.\nFive words do end here.")
    assert verdict.text == SENTENCES + "\nFive words do end here."
    assert verdict.counts == {"lines_removed.c4.too_few_words": 1}
    assert C4(C4Config(min_words_per_line=3)).keep(SENTENCES + "\nThree words here.") == KEEP


def test_pages_need_three_sentences_as_the_t5_paper_says():
    assert C4_RULES.keep(SENTENCES) == KEEP
    two = "\n".join(SENTENCES.split("\n")[:2])
    assert C4_RULES.keep(two).reason == "c4.too_few_sentences"
    assert C4_RULES.keep("One sentence here is fine. Two sentences are here now. Three end it all.") == KEEP


def test_sentences_are_not_split_after_titles_or_inside_numbers():
    assert count_sentences("Mr. Smith paid 3.50 dollars to Dr. Jones.") == 1
    assert count_sentences('He left. "Why?" she asked. (Nobody knew.) Then rain.') == 4
    assert count_sentences("e.g. this one stays whole.") == 1


def test_javascript_and_policy_lines_are_removed():
    page = (
        SENTENCES + "\nPlease enable JavaScript in your browser to see the comments.\n"
        "This website uses cookies to give you the best experience.\nRead our Privacy Policy for all details."
    )
    verdict = C4_RULES.keep(page)
    assert verdict.text == SENTENCES
    assert verdict.counts == {"lines_removed.c4.javascript": 1, "lines_removed.c4.policy": 2}


def test_lorem_ipsum_or_a_curly_bracket_in_a_kept_line_drops_the_page():
    assert C4_RULES.keep(SENTENCES + "\nLorem ipsum dolor sit amet, consectetur.").reason == "c4.lorem_ipsum"
    assert C4_RULES.keep(SENTENCES + "\nThe set {a, b} has two elements in it.").reason == "c4.curly_bracket"
    # A code line without terminal punctuation is removed before the bracket is seen (as in TFDS).
    assert C4_RULES.keep(SENTENCES + "\nfunction f() { return 1 }").text == SENTENCES


def test_citation_markers_are_cut_and_long_words_remove_their_line():
    verdict = C4_RULES.keep(SENTENCES.replace("own line.", "own line.[1]").replace("today.", "today[citation needed]."))
    assert verdict.text == SENTENCES
    long_word = "x" * 1001
    assert C4_RULES.keep(SENTENCES + f"\nA line with {long_word} in it.").counts == {
        "lines_removed.c4.too_long_word": 1
    }


def test_every_rule_can_be_switched_off():
    relaxed = C4(
        C4Config(
            remove_lines_without_terminal_punctuation=False,
            min_words_per_line=0,
            min_sentences=0,
            remove_javascript_lines=False,
            remove_policy_lines=False,
            drop_lorem_ipsum=False,
            drop_curly_bracket=False,
            remove_citations=False,
            max_word_length=0,
        )
    )
    page = "Heading\n\nLorem ipsum {x} uses cookies, javascript [1]\n" + "y" * 2000
    assert relaxed.keep(page) == KEEP


# ---------------------------------------------------------------------------
# Real documents


def test_navigation_lines_of_a_real_common_crawl_page_are_removed(corpora):
    page = corpus_jsonl_text(corpora, CC_JSONL, 1)
    verdict = C4_RULES.keep(page)
    assert verdict.keep and verdict.counts["lines_removed.c4.no_terminal_punctuation"] >= 10
    kept_lines = [line for line in verdict.text.split("\n") if line]
    assert kept_lines and all(line.endswith((".", "!", "?", '"', "”", "'", "’")) for line in kept_lines)


def test_a_real_page_with_code_is_dropped(corpora):
    assert C4_RULES.keep(corpus_jsonl_text(corpora, CC_JSONL, 272)).reason == "c4.curly_bracket"


def test_c4_would_gut_a_hard_wrapped_novel(corpora):
    """Why books do not get C4 by default: Pride and Prejudice loses its wrapped lines, then a '{'."""
    novel = corpus_file_text(corpora, "books/RU-ECE__ECE451-Parallel/data/pg1342.txt", "text")
    verdict = C4_RULES.keep(novel)
    assert verdict.reason == "c4.curly_bracket"
    assert verdict.counts["lines_removed.c4.no_terminal_punctuation"] > 5000


def test_the_line_tests_equal_their_plain_reading_on_every_real_line(corpora):
    """_fewer_words and _mentions_policy are the rules' conditions, written for speed."""
    lines = ["a b c d", "a b c d e", "  ", "x", "uses cookies.", "our Cookie Policy", "terms of service"]
    for _, text in corpus_jsonl_texts(corpora):
        lines += text.split("\n")
    policy_lines = 0
    for line in map(str.strip, lines):
        for n in range(8):
            assert _fewer_words(line, n) == (len(line.split()) < n), (line, n)
        lower = line.lower()
        assert _mentions_policy(lower) == any(phrase in lower for phrase in POLICY_PHRASES), line
        policy_lines += _mentions_policy(lower)
    assert len(lines) > 10_000 and policy_lines > 10
