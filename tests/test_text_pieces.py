"""A large text a piece at a time: the pieces' results are the whole text's."""

import ftfy

from transforms.filters.text import split_lines, word_chunks
from transforms.normalize import normalize_pieces, normalize_whitespace
from transforms.text_pieces import WHITESPACE, pieces
from transforms.unicode_fix import fix_text_pieces

# HTML entities before and after the first "<", blank lines (some of spaces) in runs that pieces cut,
# at both ends too, CRLF, a form feed, mojibake, an accent after a line break and one to compose.
TEXT = (
    "\n \n\nA &amp; B\r\nline two  \n\n\n\nâ€™ quoted \u2019 &lt; <b>\nafter &amp; the lt\t \n\n \n\t\n\n"
    "last\u00a0words \x0c end\ne\u0301\n\u0301y\u200b\n\n\n"
)


def test_pieces_kept_join_back_and_pieces_without_separators_split_as_the_whole_text():
    for chars in (1, 3, 10, 1000):
        assert "".join(pieces(TEXT, chars=chars)) == TEXT
        lines = [line for piece in pieces(TEXT, keep_separator=False, chars=chars) for line in piece.split("\n")]
        assert lines == TEXT.split("\n")
        words = [w for piece in pieces(TEXT, WHITESPACE, keep_separator=False, chars=chars) for w in piece.split()]
        assert words == TEXT.split()
    assert list(pieces("")) == [""]


def test_a_text_shorter_than_a_piece_is_one_piece_and_not_a_copy():
    [piece] = pieces(TEXT)
    assert piece is TEXT


def test_fixing_and_normalising_in_pieces_gives_the_whole_texts_result():
    """ftfy stops unescaping HTML after the text's first "<": a later piece without one must not unescape."""
    for chars in range(1, 40):
        fixed = "".join(fix_text_pieces(pieces(TEXT, chars=chars)))
        assert fixed == ftfy.fix_text(TEXT)
        assert normalize_pieces(pieces(TEXT, chars=chars)) == normalize_whitespace(TEXT)


def test_lines_and_words_of_a_large_text_are_the_whole_splits():
    text = "word " * 300_000 + "\n\nlast line\n"
    assert list(split_lines(text)) == text.split("\n")
    assert [w for chunk in word_chunks(text) for w in chunk] == text.split()
