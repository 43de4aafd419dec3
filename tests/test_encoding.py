"""decode_bytes: each rule of the decoding order, and the real corpora decode without U+FFFD."""

import codecs

import pytest

from transforms.encoding import FALLBACK_ENCODING, decode_bytes

REPLACEMENT_UTF8 = "\ufffd".encode()


def test_utf8_bom_is_stripped():
    result = decode_bytes(codecs.BOM_UTF8 + "café".encode())
    assert (result.text, result.encoding, result.method) == ("café", "utf-8", "bom")


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"])
def test_utf16_and_utf32_boms_pick_the_codec(codec):
    bom = {
        "utf-16-le": codecs.BOM_UTF16_LE,
        "utf-16-be": codecs.BOM_UTF16_BE,
        "utf-32-le": codecs.BOM_UTF32_LE,
        "utf-32-be": codecs.BOM_UTF32_BE,
    }[codec]
    result = decode_bytes(bom + "Zürich".encode(codec))
    assert (result.text, result.method) == ("Zürich", "bom")


def test_utf8_bom_with_stray_cp1252_byte_uses_fallback():
    result = decode_bytes(codecs.BOM_UTF8 + "é ".encode() + b"\x93quoted\x94")
    assert result.text == "é “quoted”"
    assert result.method == "fallback"


def test_declared_charset_argument_wins_over_meta():
    html = b'<meta charset="utf-8"><p>caf\xe9</p>'
    result = decode_bytes(html, declared_charset="ISO-8859-1", kind="html")
    assert "café" in result.text and result.method == "declared"


def test_iso_8859_1_label_means_windows_1252():
    result = decode_bytes(b"\x93Hi\x94 caf\xe9", declared_charset="iso-8859-1")
    assert result.text == "“Hi” café" and result.encoding == "cp1252"


def test_undefined_windows_1252_byte_becomes_its_latin1_code_point():
    result = decode_bytes(b"a\x81b\xe9", declared_charset="windows-1252")
    assert result.text == "a\x81bé"


def test_meta_http_equiv_charset_is_read():
    html = b'<meta http-equiv="Content-Type" content="text/html; charset=windows-1250"><p>\xb9\xea</p>'
    result = decode_bytes(html, kind="html")
    assert "ąę" in result.text and result.encoding == "cp1250"


def test_meta_is_ignored_for_plain_text():
    result = decode_bytes(b'<meta charset="iso-8859-2"> \xc5\x82', kind="text")
    assert result.text.endswith("ł") and result.method == "utf-8"


def test_gutenberg_header_charset_is_read():
    data = b"Title: X\r\nCharacter set encoding: ISO-8859-1\r\n\r\nOntboezemingen \xe9\xe9n"
    result = decode_bytes(data)
    assert result.text.endswith("één") and result.method == "declared"


def test_ascii_declared_but_utf8_bytes_decode_as_utf8():
    data = "Character set encoding: ASCII\r\n\r\nit\u2019s".encode()
    result = decode_bytes(data)
    assert result.text.endswith("it’s") and result.encoding == "utf-8" and result.method == "utf-8"


def test_unknown_and_non_text_labels_are_skipped():
    assert decode_bytes("é".encode(), declared_charset="no-such-charset").method == "utf-8"
    assert decode_bytes(b"aGk=", declared_charset="base64").text == "aGk="


def test_meta_utf16_on_ascii_compatible_page_means_utf8():
    html = '<meta charset="utf-16"><p>é</p>'.encode()
    assert decode_bytes(html, kind="html").text.endswith("é</p>")


def test_plain_utf8_without_declaration():
    result = decode_bytes("żółw".encode())
    assert (result.text, result.encoding, result.method) == ("żółw", "utf-8", "utf-8")


def test_undeclared_legacy_bytes_are_detected():
    text = "Größere Bäume wachsen über die Mauer, während die Straße ruhig bleibt. " * 20
    result = decode_bytes(text.encode("cp1252"))
    assert result.method == "detected"
    assert result.text == text


def test_mostly_utf8_with_stray_cp1252_bytes_uses_fallback():
    data = ("Übergrößenträger für Bäume und Sträucher. " * 5).encode() + b"\x96 Ende \x85"
    result = decode_bytes(data)
    assert result.method == "fallback" and result.encoding == FALLBACK_ENCODING
    assert result.text.endswith("– Ende …")


def test_empty_input():
    assert decode_bytes(b"").text == ""


def _corpus_documents(corpora):
    for folder, kind in [("books", "text"), ("web/html", "html")]:
        for path in sorted((corpora / folder).rglob("*")):
            if path.is_file():
                yield path, kind


def test_corpora_decode_without_introducing_replacement_characters(corpora):
    checked = 0
    for path, kind in _corpus_documents(corpora):
        data = path.read_bytes()
        text = decode_bytes(data, kind=kind).text
        assert text.count("\ufffd") <= data.count(REPLACEMENT_UTF8), path
        checked += 1
    assert checked >= 200


def test_iso_8859_1_dutch_book_decodes_to_dutch(corpora):
    data = (corpora / "books/GITenberg__Ontboezemingen_24675/24675-8.txt").read_bytes()
    result = decode_bytes(data)
    assert result.method == "declared"
    assert "vóór" in result.text and "Gabriël" in result.text
    assert "\ufffd" not in result.text and "Ã" not in result.text


def test_windows_1250_polish_page_decodes_with_polish_letters(corpora):
    folder = corpora / "web/html/adbar__trafilatura/tests/eval"
    path = next(folder.glob("Unijne fundusze*rp.pl.html"))
    result = decode_bytes(path.read_bytes(), kind="html")
    assert result.encoding == "cp1250"
    for word in ["zagłosował", "Rząd", "bliżej"]:
        assert word in result.text
    assert all(letter in result.text for letter in "ąęłżśó")
