"""normalize_whitespace: each rule, and that paragraph structure survives."""

import re

import pytest

from transforms.encoding import decode_bytes
from transforms.normalize import normalize_pieces, normalize_whitespace


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("a\r\nb\rc", "a\nb\nc"),
        ("a\u2028b\u2029c\x85d", "a\nb\nc\nd"),
        ("page one\x0cpage two", "page one\npage two"),
        ("line   \t\nnext\t \n", "line\nnext"),
        ("a\x00b\x07c\x1bd\x7fe\x9bf", "abcdef"),
        ("keep\ttabs inside", "keep\ttabs inside"),
        ("zero\u200bwidth\ufeff and soft\u00adhyphen \u2060joiner", "zerowidth and softhyphen joiner"),
        ("\ufeffstarts with a BOM", "starts with a BOM"),
        ("ZWJ stays: 👩\u200d💻, ZWNJ stays: می\u200cخواهم", "ZWJ stays: 👩\u200d💻, ZWNJ stays: می\u200cخواهم"),
        ("cafe\u0301", "café"),
        ("e\u200b\u0301", "é"),
        ("\n\n  \nfirst\n\nlast\n \n\n", "first\n\nlast"),
        ("  indented first line", "  indented first line"),
    ],
    ids=[
        "crlf_and_cr",
        "unicode_separators",
        "form_feed",
        "trailing_space",
        "controls_removed",
        "tabs_kept",
        "invisible_removed",
        "leading_bom",
        "joiners_kept",
        "nfc",
        "nfc_after_removal",
        "outer_blank_lines",
        "leading_indent_kept",
    ],
)
def test_rule(raw, expected):
    assert normalize_whitespace(raw) == expected


def test_runs_of_blank_lines_collapse_to_one_blank_line():
    assert normalize_whitespace("p1\n\n\n\np2\n \t\n\n\np3") == "p1\n\np2\n\np3"


def test_single_newlines_and_single_blank_lines_are_preserved():
    text = "line one\nline two\n\nnew paragraph\nmore"
    assert normalize_whitespace(text) == text


def test_non_breaking_space_is_kept_inside_lines_and_stripped_at_line_end():
    assert normalize_whitespace("10\u00a0000 « oui »\u00a0\nx") == "10\u00a0000 « oui »\nx"


def test_is_idempotent():
    text = "\ufeff  Title\r\n\r\n\r\n\r\nBody\u200b text\t \r\nend\x0c\n\n"
    once = normalize_whitespace(text)
    assert normalize_whitespace(once) == once


def test_empty_and_blank_input():
    assert normalize_whitespace("") == ""
    assert normalize_whitespace(" \r\n\t\n\n") == ""


def test_crlf_book_keeps_its_paragraphs(corpora):
    path = corpora / "books/c-w__gutenberg/tests/data/raw-texts/1013"
    raw = decode_bytes(path.read_bytes()).text
    text = normalize_whitespace(raw)
    assert "\r" not in text and "\n\n\n" not in text
    raw_paragraphs = [p for p in re.split(r"\n[ \t]*\n", raw.replace("\r\n", "\n")) if p.strip()]
    assert len(text.split("\n\n")) == len(raw_paragraphs)
    assert all(line == line.rstrip(" \t") for line in text.split("\n"))


def test_ftfy_output_skips_the_nfc_pass_with_the_same_result(corpora):
    """normalize_pieces(..., nfc=True) leaves out NFC where nothing but whitespace is taken away; on
    ftfy's output (NFC) that must give what the NFC pass gives, on real text and where a removed
    invisible character brings a letter and its accent together."""
    from tests.helpers import corpus_jsonl_texts
    from transforms.text_pieces import pieces
    from transforms.unicode_fix import fix_text

    texts = ["e\u200b\u0301 caf\u00e9  \nx\u00ad\u0308 \t\n\n\n\ny", "\u0301 at a line start \n\n\ne\u0301"]
    texts += [text for _, text in corpus_jsonl_texts(corpora)]
    for path in sorted((corpora / "books/c-w__gutenberg/tests/data/raw-texts").iterdir())[:6]:
        texts.append(decode_bytes(path.read_bytes()).text)
    for text in map(fix_text, texts):
        for chars in (64, 1 << 19):  # pieces of a few lines, and whole texts
            whole = normalize_pieces(pieces(text, chars=chars))
            assert normalize_pieces(pieces(text, chars=chars), nfc=True) == whole == normalize_whitespace(text)
