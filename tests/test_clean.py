"""The clean stage as a pure function, and the known damage of the real books repaired."""

import re

import pytest

from transforms.clean import CleanConfig, Dropped, clean_document
from transforms.mojibake import repair_transliterated_mojibake
from transforms.records import RawDocument

C1_CONTROLS = re.compile("[\x80-\x9f]")


def _clean(data, kind="text", **config):
    return clean_document(RawDocument("s", "/p", 0, kind, data), CleanConfig(**config))


def _book(corpora, name):
    """A raw book (not the boilerplate-free reference copy some have)."""
    [path] = [p for p in (corpora / "books").rglob(name) if p.is_file() and "clean-texts" not in p.parts]
    return path.read_bytes()


def test_transliterated_mojibake_becomes_punctuation():
    text = 'aEurooeI am very,aEuro\ufffd she said;aEuro"and he didnaEuro(TM)t. aEuro~So.aEuro(TM)'
    assert (
        repair_transliterated_mojibake(text)
        == "\u201cI am very,\u201d she said;\u2014and he didn\u2019t. \u2018So.\u2019"
    )
    assert repair_transliterated_mojibake("Europe and the euro") == "Europe and the euro"


def test_windows_1252_quotes_misread_as_latin_1_are_repaired(corpora):
    raw = _book(corpora, "pg4658.txt")
    assert len(C1_CONTROLS.findall(raw.decode("utf-8-sig"))) > 5000
    text = _clean(raw)["text"]
    assert not C1_CONTROLS.search(text)
    assert "Pilgrimage" in text


@pytest.mark.parametrize("name", ["33956", "35190", "36261", "38507"])
def test_ascii_transliterated_mojibake_in_books_is_repaired(corpora, name):
    raw = _book(corpora, name).decode("utf-8")
    text = _clean(_book(corpora, name))["text"]
    assert raw.count("aEuro") >= 60
    assert "aEuro" not in text
    assert text.count("\ufffd") == raw.count("\ufffd") - raw.count("aEuro\ufffd") - _in_boilerplate(raw)


def _in_boilerplate(raw: str) -> int:
    """U+FFFD outside the body (the Gutenberg header and licence are stripped)."""
    start = raw.find("*** START OF")
    end = raw.find("*** END OF")
    return raw[:start].count("\ufffd") + raw[end:].count("\ufffd")


def test_html_is_reduced_to_its_main_text():
    page = (
        "<html><head><meta charset='windows-1252'><style>p {}</style></head><body><nav>Menu</nav>"
        "<article>"
        + "<p>Caf\xe9 prose that is long enough to be kept by the extractor.</p>" * 5
        + "</article></body></html>"
    ).encode("cp1252")
    row = _clean(page, kind="html")
    assert "Café prose" in row["text"] and "Menu" not in row["text"] and "p {}" not in row["text"]
    assert row["encoding"] == "cp1252 (declared)"


def test_a_web_page_quoting_a_gutenberg_footer_keeps_its_text():
    # A footer without a header is cut from a plain-text file only: an HTML edition opens with its header.
    page = (
        "<html><body><article><p>How a volunteer proofreads a book, step by step.</p>"
        "<p>End of the Project Gutenberg era of hand-typed texts came with scanners.</p>"
        "<p>Scanners changed the work of every volunteer who proofreads.</p></article></body></html>"
    )
    assert "Scanners changed the work" in _clean(page, kind="html")["text"]


def test_a_web_page_about_project_gutenberg_keeps_its_text():
    # Its first paragraph names Project Gutenberg, as a 1992-era etext header does: only a START marker
    # makes a web page a book.
    sentences = [
        "Project Gutenberg is a volunteer effort to digitize and archive cultural works, founded in 1971.",
        "It is the oldest digital library, and most of its items are the full texts of public domain books.",
        "The project is named after Johannes Gutenberg, the printer; Project Gutenberg books are free to read.",
        "Readers can download the books in several formats and read them on any device they own.",
    ]
    page = "<html><body><article>" + "".join(f"<p>{s}</p>" for s in sentences) + "</article></body></html>"
    assert _clean(page, kind="html")["text"] == "\n\n".join(sentences)


# The shape of Project Gutenberg's HTML5 editions: header and footer in elements of class pg-boilerplate,
# each chapter in a <div> (none holding most of the book's text).
HTML5_EDITION = """<html><head><title>The Harbour | Project Gutenberg</title></head><body>
<section class="pg-boilerplate pgheader" id="pg-header"><h2 id="pg-header-heading">The Project Gutenberg eBook of
The Harbour</h2><div>This ebook is for the use of anyone anywhere in the United States at no cost.</div>
<div class="container" id="pg-machine-header"><p><strong>Title</strong>: The Harbour</p>
<p><strong>Author</strong>: Anon</p></div>
<div id="pg-start-separator"><span>*** START OF THE PROJECT GUTENBERG EBOOK THE HARBOUR ***</span></div></section>
<h1>THE HARBOUR</h1>
<div class="chapter"><h2>CHAPTER I: THE BOATS</h2>
<p>The boats came in at dusk, one after another, and the harbour master counted them from the quay.</p>
<p>Nobody spoke until the last of them had tied up and the lamps along the wall were lit.</p></div>
<div class="chapter"><h2>CHAPTER II: THE STORM</h2>
<p>By midnight the wind had turned, and the sea that had been calm all week began to rise.</p></div>
<div class="chapter"><h2>CHAPTER III: THE MORNING</h2>
<p>In the morning every boat was still there, and the harbour master counted them again.</p></div>
<section class="pg-boilerplate pgfooter" id="pg-footer">
<div id="pg-end-separator"><span>*** END OF THE PROJECT GUTENBERG EBOOK THE HARBOUR ***</span></div>
<h2>THE FULL PROJECT GUTENBERG LICENSE</h2><p>To protect the Project Gutenberg mission of promoting the free
distribution of electronic works, you agree to comply with all the terms of the License.</p></section>
</body></html>"""


def test_an_html5_gutenberg_edition_loses_its_header_and_footer_and_keeps_its_headings():
    assert _clean(HTML5_EDITION, kind="html")["text"] == (
        "THE HARBOUR\n\nCHAPTER I: THE BOATS\n\n"
        "The boats came in at dusk, one after another, and the harbour master counted them from the quay.\n\n"
        "Nobody spoke until the last of them had tied up and the lamps along the wall were lit.\n\n"
        "CHAPTER II: THE STORM\n\n"
        "By midnight the wind had turned, and the sea that had been calm all week began to rise.\n\n"
        "CHAPTER III: THE MORNING\n\n"
        "In the morning every boat was still there, and the harbour master counted them again."
    )
    assert "Project Gutenberg" in _clean(HTML5_EDITION, kind="html", strip_gutenberg=False)["text"]


def test_documents_without_main_text_or_too_short_are_dropped_with_a_reason():
    assert _clean(b"<html><body><script>x()</script></body></html>", kind="html") == Dropped("no_main_text")
    assert _clean(" \r\n\t ") == Dropped("too_short_after_cleaning")
    assert _clean("short text", min_chars=50) == Dropped("too_short_after_cleaning")


def test_text_from_json_is_cleaned_without_decoding():
    row = _clean("Line one.  \r\n\r\n\r\n\r\nLine two.\x00")
    assert row["text"] == "Line one.\n\nLine two."
    assert row["encoding"] == "unicode"
    assert row["id"] == "s:/p:0"
