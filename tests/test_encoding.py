"""decode_bytes: each rule of the decoding order, and the real corpora decode without U+FFFD."""

import codecs

import pytest

from transforms import encoding
from transforms.encoding import FALLBACK_ENCODING, decode_bytes, implausibility, wide_unicode_codec

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


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"])
def test_utf16_and_utf32_without_bom_are_told_by_their_nul_bytes(codec):
    text = "Zürich, 東京 and Москва.\nEach line ends here.\n" * 3
    result = decode_bytes(text.encode(codec))
    assert (result.text, result.encoding, result.method) == (text, codec, "utf-16/32")


def test_utf16_cjk_text_with_few_ascii_characters_is_detected():
    text = "有些年前，我口袋里只有很少的钱。\n他不知道在陆地上做什么。\n" * 4
    assert wide_unicode_codec(text.encode("utf-16-be")) == "utf-16-be"


def test_binary_with_nul_bytes_on_both_sides_is_not_utf16():
    assert wide_unicode_codec(b"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x03\x00>\x00") is None
    assert wide_unicode_codec(bytes(range(256)) * 4) is None


def test_utf8_with_one_stray_nul_stays_utf8():
    data = "Grüße aus Zürich, ein ganz normaler Satz.\n".encode() * 20 + b"\x00"
    result = decode_bytes(data)
    assert result.method == "utf-8"


@pytest.mark.parametrize(
    "text, codec",
    [
        ("Zażółć gęślą jaźń. Pchnąć w tę łódź jeża lub ośm skrzyń fig. Źródło wiedzy. ", "iso8859-2"),
        ("Съешь же ещё этих мягких французских булок, да выпей чаю. Широкая электрификация. ", "koi8-r"),
        ("Съешь же ещё этих мягких французских булок, да выпей чаю. Широкая электрификация. ", "cp1251"),
        (
            "El pingüino Wenceslao hizo kilómetros bajo exhaustiva lluvia y frío, añoraba a su querido cachorro. ",
            "iso8859-1",
        ),
        ("他們說，這個程式的設定檔案必須放在使用者的主目錄裡面，否則無法正常執行。", "big5"),
        ("このプログラムの設定ファイルは、ユーザーのホームディレクトリに置く必要があります。", "euc-jp"),
    ],
)
def test_undeclared_legacy_text_in_its_code_page_decodes_to_the_original(text, codec):
    text = (text + "\n") * 15
    result = decode_bytes(text.encode(codec))
    assert result.method == "detected"
    assert result.text == text


def test_undeclared_shift_jis_keeps_its_wave_dash():
    # Python's cp932 reads 0x8160 as FULLWIDTH TILDE; Shift_JIS (and every browser) means WAVE DASH.
    text = "設定ファイルは１〜３個まで指定できます。ユーザーのホームディレクトリに置きます。\n" * 10
    assert decode_bytes(text.encode("shift_jis")).text == text


def test_the_least_implausible_reading_wins_over_the_first_detector():
    # chardet calls this Croatian ISO-8859-16 text Johab ("뵨tali smo 빳mom"); uchardet's reading has no flaw.
    text = "Šetali smo šumom, čuli smo ćuka. Đak je žurio kući, a žena je čekala na cesti.\n" * 15
    result = decode_bytes(text.encode("iso8859-16"))
    assert result.text == text and result.encoding == "iso8859-16"


def test_a_flawed_reading_that_every_detector_agrees_on_is_checked_against_its_siblings(monkeypatch):
    # On real Czech ISO-8859-16 pages all three detectors can say ISO-8859-2 (bench/encodings.py),
    # whose reading puts "¨" and "¹" inside words; pin the detectors to that answer.
    monkeypatch.setattr(encoding.chardet, "detect", lambda data: {"encoding": "ISO-8859-2"})
    monkeypatch.setattr(encoding.chardetng_py, "detect", lambda data: "ISO-8859-2")
    monkeypatch.setattr(encoding.cchardet, "detect", lambda data: {"encoding": "ISO-8859-2"})
    text = "Šimon čte knihu o žirafách a šnecích. Číst umí žák i Šárka.\n" * 15
    result = decode_bytes(text.encode("iso8859-16"))
    assert result.text == text and result.encoding == "iso8859-16"


def test_implausibility_counts_what_wrong_code_pages_leave():
    assert implausibility("Příliš žluťoučký kůň") == 0
    assert implausibility("P¸íli¹ ¾lu»ouèký") > 0  # ISO-8859-2 bytes read as ISO-8859-1
    assert implausibility("a\x85b") == 3  # a C1 control


def test_utf8_file_with_shift_jis_lines_keeps_both():
    utf8_part = "これはUTF-8で書かれた行です。\n二行目もUTF-8です。\n"
    sjis_part = "こちらはShift_JISで書かれた行です。\n設定ファイルを読み込みます。\n" * 3
    result = decode_bytes(utf8_part.encode() + sjis_part.encode("shift_jis"))
    assert result.text == utf8_part + sjis_part
    assert (result.encoding, result.method) == ("utf-8+cp932", "mixed")


def test_utf8_file_with_cp1252_lines_keeps_both():
    utf8_part = "Die Straße führt über die Brücke zum Gemüsegärtner.\n"
    cp1252_part = "„Grüße“, sagte die Köchin – und schloss die Tür.\n" * 3
    result = decode_bytes(utf8_part.encode() + cp1252_part.encode("cp1252"))
    assert result.text == utf8_part + cp1252_part
    assert result.method == "mixed"


def test_utf8_head_and_gbk_tail_on_one_line_are_split():
    utf8_lines = "这个文件的前几行是用UTF-8写的。\n第二行也是。\n"
    head, tail = "说明文字，用中文写的注释：", "这是用国标码写的第二部分内容，应该正确解码。\n"
    gbk_lines = "另外一些用国标码写的文字，用于检测编码。\n" * 3
    data = utf8_lines.encode() + head.encode() + tail.encode("gbk") + gbk_lines.encode("gbk")
    result = decode_bytes(data)
    assert result.text == utf8_lines + head + tail + gbk_lines
    assert result.method == "mixed"


def test_legacy_file_with_a_line_that_is_utf8_by_chance_is_not_mixed():
    # In cp866 every small Cyrillic letter is a UTF-8 lead or continuation byte: "Рисуем" alone
    # on a line is valid UTF-8, but one such line does not make a file UTF-8.
    text = "Рисуем\n" + "Программа выводит список файлов в текущем каталоге и завершает работу.\n" * 20
    data = text.encode("cp866")
    result = decode_bytes(data)
    assert result.method == "detected" and result.text == text
