"""FineWeb's line-structure rules on hand-written edge cases and real pages."""

import pytest

from tests.helpers import PROSE, corpus_file_text
from transforms.filters import KEEP
from transforms.filters.fineweb import FineWeb
from transforms.filters.text import ends_with_sentence_terminal, lines, paragraphs

FINEWEB = FineWeb()


def _long_lines(n: int, ending: str = "") -> list[str]:
    """n distinct lines of seven words, longer than 30 characters."""
    return [f"Line number {i} carries seven distinct words{ending}".replace("seven", f"seven{i}") for i in range(n)]


def test_prose_is_kept():
    assert FINEWEB.keep(PROSE) == KEEP


def test_lines_ending_a_sentence_must_be_at_least_twelve_percent():
    assert FINEWEB.keep("\n".join(_long_lines(7) + ["It ends here."])) == KEEP  # 1 of 8 = 0.125
    assert (
        FINEWEB.keep("\n".join(_long_lines(8) + ["It ends here."])).reason == "fineweb.terminal_punctuation_lines"
    )  # 1 of 9 = 0.111


@pytest.mark.parametrize(
    "line, ends",
    [
        ("Yes.", True),
        ("Really?", True),
        ("完了。", True),
        ("لماذا؟", True),
        ("नमस्ते।", True),
        ('He said "no."', False),
        ("A list:", False),
        ("", False),
    ],
)
def test_sentence_terminals_of_every_script_count_but_a_closing_quote_does_not(line, ends):
    assert ends_with_sentence_terminal(line) is ends


def test_mostly_short_lines_drop():
    menu = "\n".join(f"Menu item {i}." for i in range(7)) + "\n" + "\n".join(_long_lines(3, "."))
    assert FINEWEB.keep(menu).reason == "fineweb.short_lines"  # 7 of 10 lines are 30 characters or less


def test_repeated_lines_may_hold_one_percent_of_the_characters():
    text = PROSE + "\n\n" + "Subscribe to our newsletter today.\n" * 2
    assert FINEWEB.keep(text).reason == "fineweb.duplicate_line_chars"


def test_more_than_three_line_breaks_per_ten_words_drop():
    listing = "\n".join(f"Internationalisation considerations{i} apply." for i in range(20))
    assert FINEWEB.keep(listing).reason == "fineweb.newlines_per_word"


def test_blank_lines_between_paragraphs_change_nothing():
    listing = "\n".join(f"Internationalisation considerations{i} apply." for i in range(20))
    assert FINEWEB.keep(listing.replace("\n", "\n\n")) == FINEWEB.keep(listing)
    assert lines("a\n\n\nb\n  \nc") == ["a", "b", "c"]
    assert paragraphs("a\nb\n\n\nc\n \nd") == ["a\nb", "c", "d"]


def test_an_empty_text_is_dropped():
    assert FINEWEB.keep("\n\n").reason == "fineweb.terminal_punctuation_lines"


# ---------------------------------------------------------------------------
# Real pages


def test_a_word_definition_page_of_short_unpunctuated_lines_is_dropped(corpora):
    # Its layout table is written as paragraphs (docs/extraction.md): the definition's sentences are
    # lines of their own, and the menus and headings make most lines short.
    page = corpus_file_text(corpora, "web/html/adbar__trafilatura/tests/eval/wordsmith.org.maudlin.html", "html")
    assert FINEWEB.keep(page).reason == "fineweb.short_lines"


def test_a_page_repeating_its_bylines_is_dropped(corpora):
    page = corpus_file_text(corpora, "web/html/adbar__trafilatura/tests/cache/salon.com.emissions.html", "html")
    assert FINEWEB.keep(page).reason == "fineweb.duplicate_line_chars"


def test_a_real_article_is_kept(corpora):
    page = corpus_file_text(corpora, "web/html/adbar__trafilatura/tests/cache/vancouversun.com.microsoft.html", "html")
    assert FINEWEB.keep(page) == KEEP
