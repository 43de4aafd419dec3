"""unicode_fix.fix_text must equal ftfy.fix_text on every input; these tests look for a difference."""

import random
import re
import re._constants as sre_constants
import re._parser as sre_parser

import ftfy
import pytest
from ftfy.badness import BADNESS_RE

from tests.helpers import corpus_jsonl_texts
from transforms import unicode_fix
from transforms.encoding import decode_bytes
from transforms.unicode_fix import fix_text

MAX = ftfy.TextFixerConfig().max_decode_length

EDGE_CASES = {
    "empty": "",
    "crlf": "one\r\ntwo\r\n\r\nthree",
    "lone_cr": "old mac\rline\rend\r",
    "cr_at_end": "text\r",
    "amp_without_lt": "Fish &amp; chips &eacute; &#x2019; &AMP;",
    "amp_then_lt": "Fish &amp; chips\n<b>bold</b> &amp; more\n&amp; after",
    "amp_before_lt_same_line": "&amp; then <tag>\n&amp; next line",
    "lt_first": "<p>a &amp; b</p>\nx &amp; y",
    "terminal_escape": "\x1b[36;44mblue\x1b[0m plain\n\x1b[1mbold",
    "c1_controls": "\x93smart\x94 quotes and a dash \x97 here\n\x85 next",
    "mojibake": "CafÃ© crÃ¨me\nThe Mona Lisa doesnâ€™t have eyebrows.\nplain line",
    "mojibake_a0": "voilÃ le travail",
    "mojibake_line_start": "Ã la carte\nÂ copy",
    "ligatures": "ﬁne ﬂuﬃest ﬆyle",
    "fullwidth": "ＬＯＵＤ　ＮＯＩＳＥＳ and ｶﾀｶﾅ",
    "fullwidth_amp": "Ｆｉｓｈ ＆amp; chips",
    "curly_quotes": "“Hello,” she said. It’s ‘fine’.\r\n„Gut“",
    "curly_quotes_on_many_lines": "“One,” she said.\nIt’s ‘two’ here\r\n„Drei“ and ‚vier‘\nʼokina ‛x‟\nplain\n",
    "curly_quote_then_combining": "a’e\u0301 and “x”\u0301\n‘q’\nq’\u0301",
    "curly_quotes_around_mojibake": "“fine” line\nCafÃ© “broken”\n‘ok’ &amp; ’\n",
    "surrogate_pair": "emoji \ud83d\udca9 pair",
    "lone_surrogate": "broken \ud83d here\n\udca9",
    "nul_and_controls": "a\x00b\x07c\x0bd\x7fe\x0cf\tg",
    "bom_inside": "text\ufeffwith bom",
    "line_separators": "one\u2028two\u2029three",
    "combining": "cafe\u0301 and n\u0303\n\u0301leading combining",
    "umlauts": "Größe für Bäume\r\nüber",
    "cjk_and_arabic": "中文文本，测试\nالنص العربي",
    "cyrillic": "Привет, мир\nВЂ test",
    "cyrillic_mojibake": "РџСЂРёРІРµС‚ and Ð¿Ñ€Ð¸Ð²ÐµÑ‚\nГўВЂВњquoteГўВЂВќ x\nâ€™ Ã©",
    "greek_and_accents": "Καλημέρα κόσμε\nΞ±Ξ²Ξ³ ΟΞ\ncafé naïve Ørsted ×² √±",
    "oe_ligature": "œuvre cœur Œ",
    "only_newlines": "\n\n\r\n\r",
    "mixed_all": "A &lt; B\r\n“q” Ã© \x1b[0m ﬁ Ｆ \x85\ud83d\n<x>&amp;",
}


@pytest.mark.parametrize("name", sorted(EDGE_CASES))
def test_edge_case_matches_ftfy(name):
    text = EDGE_CASES[name]
    assert fix_text(text) == ftfy.fix_text(text)


@pytest.mark.parametrize(
    "text",
    [
        "a" * (MAX + 10) + "\nnext",
        "a" * (MAX - 1) + "\r\nnext\r\n",  # a max_decode_length cut falls between \r and \n
        "x" * (MAX - 1) + "\r\n" + "é" * 10,
        "“" + "b" * (MAX + 5) + "&amp;\n" + "c" * (2 * MAX + 3),
        ("short line\r\n" * 50_000) + "Ã©",  # a run of plain lines longer than max_decode_length
        ("‘quoted’ words " * 60 + "\r\n") * 1_200,  # a run of lines with quotes longer than max_decode_length
    ],
    ids=["long_line", "cut_between_cr_lf", "cut_then_unicode", "long_mixed", "long_plain_run", "long_quoted_run"],
)
def test_lines_longer_than_max_decode_length_match_ftfy(text):
    assert fix_text(text) == ftfy.fix_text(text)


def test_unescape_state_carries_over_segments_like_ftfy():
    text = "&amp; one\n&amp; two <\n&amp; three"
    assert fix_text(text) == ftfy.fix_text(text) == "& one\n&amp; two <\n&amp; three"


def _positions(node):
    """The character set each consuming position of a parsed branch can take (None = wildcard)."""
    for op, arg in node:
        if op is sre_constants.LITERAL:
            yield {arg}
        elif op is sre_constants.IN:
            if any(o in (sre_constants.NEGATE, sre_constants.CATEGORY) for o, _ in arg):
                yield None
                continue
            chars = set()
            for o, a in arg:
                if o is sre_constants.LITERAL:
                    chars.add(a)
                elif o is sre_constants.RANGE:
                    chars.update(range(a[0], a[1] + 1))
                else:
                    chars = None
                    break
            yield chars
        elif op is sre_constants.AT:
            continue  # zero-width
        else:
            yield None  # repeats, groups, any: treated as wildcard and as an adjacency break


def test_every_badness_alternative_needs_a_lone_bad_char_or_two_adjacent_badness_chars():
    """The premises of step 3 in unicode_fix's docstring, checked on ftfy's parsed regex: each
    alternative has a position that takes only lone bad characters, or two adjacent positions that
    take only characters of _BADNESS_CHARS; the first alternative is a C1 control alone."""
    parsed = sre_parser.parse(BADNESS_RE.pattern, BADNESS_RE.flags)
    [(op, (_, branches))] = parsed.data
    assert op is sre_constants.BRANCH
    assert list(_positions(branches[0])) == [unicode_fix._C1_CONTROLS]
    lone, suspect = unicode_fix._LONE_BAD_CHARS, unicode_fix._BADNESS_CHARS
    for branch in branches:
        positions = list(_positions(branch))
        has_lone = any(p is not None and p <= lone for p in positions)
        in_suspect = [p is not None and p <= suspect for p in positions]
        has_pair = any(a and b for a, b in zip(in_suspect, in_suspect[1:]))
        assert has_lone or has_pair, branch


def _corpus_texts(corpora):
    for folder, kind in [("books", "text"), ("web/html", "html")]:
        for path in sorted((corpora / folder).rglob("*")):
            if path.is_file():
                yield str(path), decode_bytes(path.read_bytes(), kind=kind).text


# A document's start: a Gutenberg book's header, licence and first chapters, a web page whole. ftfy
# takes 22 CPU-seconds over the books whole, 10 over their starts; past its start a book's text is
# more of the same.
DOCUMENT_START_CHARS = 100_000


@pytest.mark.slow  # ftfy itself over every book (its start) and web page of the corpora
def test_books_and_web_pages_match_ftfy(corpora):
    checked = 0
    for name, text in _corpus_texts(corpora):
        text = text[:DOCUMENT_START_CHARS]
        assert fix_text(text) == ftfy.fix_text(text), name
        checked += 1
    assert checked >= 200


def test_jsonl_documents_match_ftfy(corpora):
    checked = 0
    for name, text in corpus_jsonl_texts(corpora):
        assert fix_text(text) == ftfy.fix_text(text), name
        checked += 1
    assert checked >= 700


def test_each_corpus_line_matches_ftfy_on_its_own(corpora):
    """Single lines exercise the per-segment path without the bulk runs around them."""
    for name, text in _corpus_texts(corpora):
        for line in re.findall(r"[^\n]*\n?", text)[:400]:
            assert fix_text(line) == ftfy.fix_text(line), (name, line)


def test_random_mixtures_of_tricky_characters_match_ftfy():
    """Seeded fuzzing over the characters each fixer and the badness heuristic look at."""
    palette = list("ab Z.,\n\n\r&;<#x1") + [
        "&amp;",
        "&eacute;",
        "\r\n",
        "\x1b[0m",
        "\x00",
        "\x0c",
        "\x85",
        "\x93",
        "\x94",
        "Ã",
        "Â",
        "©",
        "â€™",
        "Ã©",
        "œ",
        "Œ",
        "ﬁ",
        "Ｆ",
        "ｶ",
        "ﾞ",
        "“",
        "’",
        "„",
        "\u2028",
        "\ud83d",
        "\udca9",
        "\ufeff",
        "é",
        "e\u0301",
        "\u0301",
        "ä",
        "ß",
        "ł",
        "中",
        "ا",
        "В",
        "Ђ",
        "\xa0",
        "°",
        "€",
        "×",
        "²",
    ]
    rng = random.Random(20240601)
    for _ in range(3000):
        text = "".join(rng.choice(palette) for _ in range(rng.randint(0, 30)))
        assert fix_text(text) == ftfy.fix_text(text), repr(text)
