"""Decode raw bytes to text without ever inventing U+FFFD.

`decode_bytes` tries, in order:

1. a byte-order mark (UTF-8, UTF-16 LE/BE, UTF-32 LE/BE): the strongest evidence there is;
2. declared charsets, in order of authority: the caller's (an HTTP Content-Type), then an
   HTML `<meta>` charset in the first 4 KB (kind "html"), then a Project Gutenberg
   "Character set encoding:" line in the first 10 KB (kind "text"). Labels are read the
   WHATWG way (ISO-8859-1, US-ASCII and friends mean windows-1252, GB2312 means GB18030, ...);
3. strict UTF-8;
4. detection with charset-normalizer on a bounded prefix, confirmed on the whole input;
5. a fallback that cannot fail: UTF-8 where the bytes are valid UTF-8, windows-1252 for each
   byte that is not.

Two judgement calls, both because real files get their labels wrong:

* A legacy (non-Unicode) label is ignored when the bytes are valid UTF-8 and not pure ASCII.
  Real Latin-1/cp125x text is practically never valid UTF-8 by chance (every high byte would
  have to form a lead/continuation pattern), while "declares ASCII/ISO-8859-1, is UTF-8"
  is common (Project Gutenberg books, old CMS templates).
* Invalid UTF-8 that nevertheless contains more valid multi-byte UTF-8 sequences than invalid
  bytes is treated as UTF-8 with stray windows-1252 bytes (the fallback) instead of being
  handed to the detector, which would happily call the whole file windows-1252 and turn
  every UTF-8 character into mojibake.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

from charset_normalizer import from_bytes

# How far into a document a declaration may sit: the WHATWG prescan reads 1024 bytes, real
# pages put long <script>/<link> blocks first, so 4 KB; PG headers run 0.5-0.9 KB, rarely more.
HTML_DECLARATION_BYTES = 4096
GUTENBERG_DECLARATION_BYTES = 10240
# charset-normalizer's cost grows with input; 64 KB is plenty to tell legacy encodings apart.
DETECTION_PREFIX_BYTES = 65536

FALLBACK_ENCODING = "utf-8+windows-1252"
_FALLBACK_ERRORS = "textshards-windows-1252"
_PASSTHROUGH_ERRORS = "textshards-latin-1-passthrough"

_BOMS = (
    # UTF-32 before UTF-16: the UTF-32 LE BOM starts with the UTF-16 LE one.
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)

_META_CHARSET_RE = re.compile(rb"""<meta[^>]*?charset\s*=\s*["']?\s*([A-Za-z0-9_.:()\-]+)""", re.I)
_GUTENBERG_CHARSET_RE = re.compile(rb"Character set encoding:[ \t]*([A-Za-z0-9_.:\-]+)", re.I)
_UTF8_MULTIBYTE_RE = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]"
    rb"|\xe0[\xa0-\xbf][\x80-\xbf]|[\xe1-\xec\xee\xef][\x80-\xbf]{2}|\xed[\x80-\x9f][\x80-\xbf]"
    rb"|\xf0[\x90-\xbf][\x80-\xbf]{2}|[\xf1-\xf3][\x80-\xbf]{3}|\xf4[\x80-\x8f][\x80-\xbf]{2}"
)
_HIGH_BYTES = bytes(range(0x80, 0x100))

# WHATWG Encoding Standard labels whose meaning differs from Python's codec of the same name,
# written with everything but letters and digits removed.
_WHATWG_CODEC_LABELS = {
    "cp1252": [
        "ansix341968",
        "ascii",
        "usascii",
        "iso646us",
        "cp1252",
        "windows1252",
        "xcp1252",
        "cp819",
        "ibm819",
        "csisolatin1",
        "isoir100",
        "iso88591",
        "iso885911987",
        "l1",
        "latin1",
    ],
    "cp1254": ["iso88599", "iso885991989", "latin5", "l5", "isoir148", "csisolatin5"],
    "cp874": ["iso885911", "tis620", "dos874", "windows874"],
    "gb18030": ["gb2312", "gb231280", "chinese", "csgb2312", "isoir58", "gbk", "xgbk"],
    "cp932": ["shiftjis", "sjis", "xsjis", "mskanji", "windows31j", "csshiftjis", "ms932"],
    "cp949": ["euckr", "ksc56011987", "ksc5601", "korean", "windows949", "cseuckr"],
    "big5hkscs": ["big5", "big5hkscs", "xxbig5", "cnbig5", "csbig5"],
    "iso8859-8": ["iso88598i", "csiso88598i", "logical"],
}
_WHATWG_LABELS = {label: codec for codec, labels in _WHATWG_CODEC_LABELS.items() for label in labels}
# WHATWG's single-byte legacy encodings: undefined bytes decode to the same-numbered code point.
_SINGLE_BYTE_CODECS = frozenset(
    codecs.lookup(name).name
    for name in [
        "cp866",
        "iso8859-2",
        "iso8859-3",
        "iso8859-4",
        "iso8859-5",
        "iso8859-6",
        "iso8859-7",
        "iso8859-8",
        "iso8859-10",
        "iso8859-13",
        "iso8859-14",
        "iso8859-15",
        "iso8859-16",
        "koi8-r",
        "koi8-u",
        "mac-roman",
        "mac-cyrillic",
        "cp874",
        "cp1250",
        "cp1251",
        "cp1252",
        "cp1253",
        "cp1254",
        "cp1255",
        "cp1256",
        "cp1257",
        "cp1258",
        "latin-1",
    ]
)
_UNICODE_CODECS = frozenset(
    codecs.lookup(name).name
    for name in ["utf-8", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be"]
)


@dataclass(frozen=True)
class Decoded:
    """Decoded text and how it was obtained.

    `encoding` is the Python codec name used ("utf-8", "cp1252", ...) or
    `FALLBACK_ENCODING`; `method` is one of "bom", "declared", "utf-8", "detected", "fallback".
    """

    text: str
    encoding: str
    method: str


def _windows_1252_for_invalid_bytes(error: UnicodeError) -> tuple[str, int]:
    """Codec error handler: decode each offending byte as windows-1252 (WHATWG flavour)."""
    if not isinstance(error, UnicodeDecodeError):  # registered for decoding only
        raise error
    bad = error.object[error.start : error.end]
    return bad.decode("cp1252", errors=_PASSTHROUGH_ERRORS), error.end


def _latin_1_passthrough(error: UnicodeError) -> tuple[str, int]:
    """Codec error handler: a byte a single-byte codec leaves undefined becomes U+00XX.

    This is how the WHATWG standard (and every browser) decodes windows-125x: the 5 holes of
    windows-1252 (0x81 0x8D 0x8F 0x90 0x9D) turn into the C1 controls of the same number.
    """
    if not isinstance(error, UnicodeDecodeError):  # registered for decoding only
        raise error
    bad = error.object[error.start : error.end]
    return bad.decode("latin-1"), error.end


codecs.register_error(_FALLBACK_ERRORS, _windows_1252_for_invalid_bytes)
codecs.register_error(_PASSTHROUGH_ERRORS, _latin_1_passthrough)


def decode_bytes(data: bytes, declared_charset: str | None = None, kind: str = "text") -> Decoded:
    """Decode `data` to text; never introduces U+FFFD (see the module docstring for the order).

    `declared_charset` is a charset label from the container (an HTTP header), if any;
    `kind` is "html" (look for a <meta> charset) or "text" (look for a Gutenberg header line).
    """
    bom_result = _decode_with_bom(data)
    if bom_result is not None:
        return bom_result

    # Almost every document is valid UTF-8: decode once here and reuse the answer below.
    try:
        utf8_text: str | None = data.decode("utf-8")
    except UnicodeDecodeError:
        utf8_text = None

    for label, from_meta in _declared_labels(data, declared_charset, kind):
        codec = _codec_for_label(label, from_meta)
        if codec is None:
            continue
        if codec == "utf-8":
            if utf8_text is not None:
                return Decoded(utf8_text, "utf-8", "declared")
            continue
        if utf8_text is not None and codec not in _UNICODE_CODECS and not data.isascii():
            continue  # a legacy label on valid multi-byte UTF-8 is a wrong label
        text = _decode_declared(data, codec)
        if text is not None:
            return Decoded(text, codec, "declared")

    if utf8_text is not None:
        return Decoded(utf8_text, "utf-8", "utf-8")

    if not _mostly_utf8(data):
        detected = _detect(data)
        if detected is not None:
            return detected

    return Decoded(data.decode("utf-8", errors=_FALLBACK_ERRORS), FALLBACK_ENCODING, "fallback")


def _decode_with_bom(data: bytes) -> Decoded | None:
    """Strip and honour a byte-order mark; None when there is none or the body contradicts it.

    A UTF-8 BOM over a body with stray invalid bytes still means UTF-8, so that case goes
    straight to the UTF-8 + windows-1252 fallback.
    """
    for bom, codec in _BOMS:
        if data.startswith(bom):
            body = data[len(bom) :]
            try:
                return Decoded(body.decode(codec), codec, "bom")
            except UnicodeDecodeError:
                if codec == "utf-8":
                    text = body.decode("utf-8", errors=_FALLBACK_ERRORS)
                    return Decoded(text, FALLBACK_ENCODING, "fallback")
                return None
    return None


def _declared_labels(data: bytes, declared_charset: str | None, kind: str):
    """Yield (label, came_from_html_meta) for every charset the document or container declares."""
    if declared_charset:
        yield declared_charset, False
    if kind == "html":
        match = _META_CHARSET_RE.search(data, 0, HTML_DECLARATION_BYTES)
        if match:
            yield match.group(1).decode("ascii"), True
    elif kind == "text":
        match = _GUTENBERG_CHARSET_RE.search(data, 0, GUTENBERG_DECLARATION_BYTES)
        if match:
            yield match.group(1).decode("ascii"), False


def _codec_for_label(label: str, from_meta: bool = False) -> str | None:
    """Python codec name for a charset label read the WHATWG way; None if unusable.

    A <meta> that says UTF-16/32 is read as UTF-8: the page was parsed as ASCII-compatible
    bytes to find the tag at all, so the label cannot be true (WHATWG prescan rule).
    """
    key = re.sub(r"[^a-z0-9]", "", label.lower())
    name = _WHATWG_LABELS.get(key, label.strip().strip("\"'").lower())
    try:
        info = codecs.lookup(name)
    except LookupError:
        return None
    if not getattr(info, "_is_text_encoding", True) or info.name == "utf-7":
        return None  # base64, rot13 ... are codecs but not charsets; UTF-7 is banned on the web
    if info.name == "utf-8-sig":
        return "utf-8"
    if from_meta and info.name in _UNICODE_CODECS:
        return "utf-8"
    return info.name


def _decode_declared(data: bytes, codec: str) -> str | None:
    """Decode with a declared codec; None if the bytes are not in that encoding."""
    errors = _PASSTHROUGH_ERRORS if codec in _SINGLE_BYTE_CODECS else "strict"
    try:
        return data.decode(codec, errors=errors)
    except UnicodeDecodeError:
        return None


def _mostly_utf8(data: bytes) -> bool:
    """True when valid multi-byte UTF-8 sequences outnumber the bytes that are not valid UTF-8."""
    sequences = _UTF8_MULTIBYTE_RE.findall(data)
    high_bytes = len(data) - len(data.translate(None, _HIGH_BYTES))
    invalid_bytes = high_bytes - sum(len(s) for s in sequences)
    return len(sequences) > invalid_bytes


def _detect(data: bytes) -> Decoded | None:
    """Guess the encoding from a prefix with charset-normalizer; None unless all of `data` decodes."""
    prefix = data[:DETECTION_PREFIX_BYTES]
    if len(data) > DETECTION_PREFIX_BYTES:
        # Cut at a line break so a multi-byte character is never split (0x0A is never a
        # trail byte in Shift_JIS, GBK, Big5 or EUC-*).
        cut = prefix.rfind(b"\n")
        if cut > 0:
            prefix = prefix[: cut + 1]
    best = from_bytes(prefix).best()
    if best is None:
        return None
    codec = _codec_for_label(best.encoding)
    if codec is None:
        return None
    text = _decode_declared(data, codec)
    if text is None:
        return None
    return Decoded(text, codec, "detected")
