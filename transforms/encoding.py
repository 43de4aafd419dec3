"""Decode raw bytes to text without ever inventing U+FFFD.

`decode_bytes` tries, in order:

1. a byte-order mark (UTF-8, UTF-16 LE/BE, UTF-32 LE/BE): the strongest evidence there is;
2. UTF-16/32 without a byte-order mark, told by where its NUL bytes sit (`wide_unicode_codec`);
3. declared charsets, in order of authority: the caller's (an HTTP Content-Type), then an
   HTML `<meta>` charset in the first 4 KB (kind "html"), then a Project Gutenberg
   "Character set encoding:" line in the first 10 KB (kind "text"). Labels are read the
   WHATWG way (ISO-8859-1, US-ASCII and friends mean windows-1252, GB2312 means GB18030, ...);
4. strict UTF-8;
5. UTF-8 mixed with another encoding: UTF-8 where a line (or the start of one) is valid UTF-8,
   the legacy encoding detected (below) on all the rest for the rest, windows-1252 per byte
   where neither decodes;
6. detection on a bounded sample, confirmed on the whole input: chardet names an encoding; when
   its reading has flaws (`implausibility`), chardetng's and uchardet's readings and those of
   sibling code pages compete, and the least implausible wins, ties to chardet.
   docs/cleaning-text.md has the measurement behind this;
7. a fallback that cannot fail: UTF-8 where the bytes are valid UTF-8, windows-1252 for each
   byte that is not.

Two judgement calls, both because real files get their labels wrong:

* A legacy (non-Unicode) label is ignored when the bytes are valid UTF-8 and not pure ASCII.
  Real Latin-1/cp125x text is practically never valid UTF-8 by chance (every high byte would
  have to form a lead/continuation pattern), while "declares ASCII/ISO-8859-1, is UTF-8"
  is common (Project Gutenberg books, old CMS templates).
* Invalid UTF-8 that nevertheless contains more valid multi-byte UTF-8 sequences than invalid
  bytes, or has lines of UTF-8 text, is decoded line by line (step 5) instead of being handed
  whole to a detector, which would happily call the whole file windows-1252 and turn every
  UTF-8 character into mojibake.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

import cchardet
import chardet
import chardetng_py
import regex

# How far into a document a declaration may sit: the WHATWG prescan reads 1024 bytes, real
# pages put long <script>/<link> blocks first, so 4 KB; PG headers run 0.5-0.9 KB, rarely more.
HTML_DECLARATION_BYTES = 4096
GUTENBERG_DECLARATION_BYTES = 10240
# What the detectors (and the UTF-16/32 check) look at. chardet costs about 0.25 s per MB;
# bench/encodings.py finds 16 KB as accurate as 64 KB.
DETECTION_PREFIX_BYTES = 16384
# Fewer non-ASCII bytes than this in the non-UTF-8 lines of a mixed file tell a detector
# nothing: such stray bytes are read as windows-1252, the usual source of them.
MIN_DETECTION_HIGH_BYTES = 16
# A file counts as UTF-8 mixed with a legacy encoding when its valid UTF-8 lines hold at least
# this many non-ASCII bytes, and at least 1/MIXED_UTF8_SHARE_PER of all its non-ASCII bytes:
# a short line of a legacy file can be valid UTF-8 by chance (25 bytes' worth in 58 KB of
# cp866 Ukrainian, where every small letter is a UTF-8 lead or continuation byte).
MIN_MIXED_UTF8_BYTES = 8
MIXED_UTF8_SHARE_PER = 20
# A UTF-8 run at the start or end of a line that is otherwise in another encoding: fewer
# non-ASCII characters than this are as likely legacy bytes that form UTF-8 by chance.
MIN_UTF8_RUN_CHARS = 4
# UTF-16 without BOM: at least one code unit in this many has a NUL byte (ASCII spaces,
# digits, line breaks: even all-CJK text has a few), all on one side.
WIDE_NUL_UNITS_PER = 50

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
_HIGH_BYTE_RE = re.compile(rb"[\x80-\xff]")
_ESCAPED_BYTE_RE = re.compile("[\udc80-\udcff]")
_NON_ASCII_RE = re.compile("[^\x00-\x7f]")
# C0 controls other than tab, line breaks, form feed and escape: text holds almost none.
_CONTROL_RE = re.compile(r"[\x00-\x08\x0e-\x1a\x1c-\x1f\x7f]")
# What a wrong code page leaves in decoded text, and real text almost never holds: C1 controls,
# private-use and unassigned code points (weight 3, below); a non-ASCII symbol or modifier
# touching a letter ("p¨ed", "10 ¤"); a non-ASCII capital after a small letter ("pŘed"); a letter
# of another script right after a non-ASCII letter ("éж"); CJK touching a Latin letter ("뵨tali":
# Latin text read as Johab; real CJK text has some, every reading of it about as many).
_IMPOSSIBLE_RE = regex.compile(r"[\x80-\x9f\p{Co}\p{Cn}]")
_IMPLAUSIBLE_RE = regex.compile(
    r"(?=[^\x00-\x7f])(?:"  # every case holds a non-ASCII character: a cheap test at each position
    r"(?<=\p{L})[\p{S}\p{No}\p{Lm}--\p{ASCII}]|[\p{S}\p{No}\p{Lm}--\p{ASCII}](?=\p{L})"
    r"|(?<=\p{Ll})[\p{Lu}--\p{ASCII}]"
    r"|(?<=[\p{Latin}--\p{ASCII}])[\p{L}--\p{Latin}]"
    r"|(?<=\p{Cyrillic})[\p{L}--\p{Cyrillic}--\p{ASCII}]"
    r"|(?<=\p{Greek})[\p{L}--\p{Greek}--\p{ASCII}]"
    r"|(?<=[A-Za-z])[\p{Han}\p{Hangul}\p{Hiragana}\p{Katakana}]|[\p{Han}\p{Hangul}\p{Hiragana}\p{Katakana}](?=[A-Za-z]))",
    regex.V1,
)

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
# A detector's CJK answer read as the narrowest Python codec that decodes the bytes: Python's
# cp932 maps 0x8160 to U+FF5E where Shift_JIS (and WHATWG) mean U+301C, and the wider codecs
# only add characters, so the narrow one gives back what the file's author wrote.
_NARROWER_CODECS = {
    "cp932": ("shift_jis", "cp932"),
    "cp949": ("euc_kr", "cp949"),
    "gb18030": ("gb2312", "gbk", "gb18030"),
    "big5hkscs": ("big5", "cp950", "big5hkscs"),
}
# Code pages for the same languages, tried when the detectors' readings all have flaws.
_SIBLING_CODECS = {
    "iso8859-2": ("iso8859-16", "cp1250"),
    "cp1250": ("iso8859-2", "iso8859-16"),
    "iso8859-16": ("iso8859-2", "cp1250"),
    "cp1252": ("iso8859-15",),
    "iso8859-15": ("cp1252",),
    "iso8859-4": ("iso8859-13", "cp1257"),
    "iso8859-13": ("iso8859-4", "cp1257"),
    "cp1257": ("iso8859-13", "iso8859-4"),
}
# Detector answers that Python knows by another name.
_DETECTOR_LABELS = {"uhc": "cp949"}
_UNICODE_CODECS = frozenset(
    codecs.lookup(name).name
    for name in ["utf-8", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be"]
)


@dataclass(frozen=True)
class Decoded:
    """Decoded text and how it was obtained.

    `encoding` is the Python codec name used ("utf-8", "cp1252", ...), "utf-8+<codec>" for a
    file mixing UTF-8 lines with lines in another encoding, or `FALLBACK_ENCODING`;
    `method` is one of "bom", "utf-16/32", "declared", "utf-8", "mixed", "detected", "fallback".
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
    wide_codec = wide_unicode_codec(data)
    if wide_codec is not None:
        try:
            return Decoded(data.decode(wide_codec), wide_codec, "utf-16/32")
        except UnicodeDecodeError:
            pass  # the start looked wide, the rest is not: read it as bytes

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

    if _holds_utf8_text(data):
        return _decode_mixed(data.splitlines(keepends=True))

    detected = _detect(data)
    if detected is not None:
        return detected
    return Decoded(data.decode("utf-8", errors=_FALLBACK_ERRORS), FALLBACK_ENCODING, "fallback")


def wide_unicode_codec(data: bytes) -> str | None:
    """ "utf-32-le", "utf-32-be", "utf-16-le" or "utf-16-be" for BOM-less text in that form, else None.

    Text in UTF-32 has a NUL in the top byte of every code unit; in UTF-16 the NULs of ASCII
    characters sit on one side (even offsets in big-endian, odd in little-endian), while
    binary data has them on both. `data` may be the start of a file, cut anywhere: the last
    incomplete code unit is ignored. The decoded start must hold almost no control characters.
    """
    head = data[:DETECTION_PREFIX_BYTES]
    if b"\x00" not in head:
        return None
    head = head[: len(head) - len(head) % 4]
    if len(head) < 4:
        return None
    if not any(head[3::4]) and max(head[2::4]) <= 0x10:
        codec = "utf-32-le"
    elif not any(head[0::4]) and max(head[1::4]) <= 0x10:
        codec = "utf-32-be"
    else:
        even_nuls, odd_nuls = head[0::2].count(0), head[1::2].count(0)
        units = len(head) // 2
        # Not all on one side: a CJK character's low byte is 0x00 once in 256 (U+4E00 "一").
        if odd_nuls * WIDE_NUL_UNITS_PER >= units and even_nuls * 3 <= odd_nuls:
            codec = "utf-16-le"
        elif even_nuls * WIDE_NUL_UNITS_PER >= units and odd_nuls * 3 <= even_nuls:
            codec = "utf-16-be"
        else:
            return None
    try:
        text = codecs.getincrementaldecoder(codec)().decode(head, final=False)
    except UnicodeDecodeError:
        return None
    if len(_CONTROL_RE.findall(text)) * 100 > len(text):
        return None
    return codec


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
    invalid_bytes = _high_byte_count(data) - sum(len(s) for s in sequences)
    return len(sequences) > invalid_bytes


def _holds_utf8_text(data: bytes) -> bool:
    """True when invalid UTF-8 still holds UTF-8 text: more valid multi-byte sequences than
    invalid bytes, or lines of UTF-8 (`_has_utf8_lines`, only looked at when there can be any)."""
    sequences = _UTF8_MULTIBYTE_RE.findall(data)
    utf8_bytes = sum(len(sequence) for sequence in sequences)
    if len(sequences) > _high_byte_count(data) - utf8_bytes:
        return True
    return utf8_bytes >= MIN_MIXED_UTF8_BYTES and _has_utf8_lines(data.splitlines(keepends=True))


def _has_utf8_lines(lines: list[bytes]) -> bool:
    """True when the valid UTF-8 lines hold enough of the non-ASCII bytes to be UTF-8 text, not chance."""
    utf8_bytes = other_bytes = 0
    for line in lines:
        if line.isascii():
            continue
        try:
            line.decode("utf-8")
            utf8_bytes += _high_byte_count(line)
        except UnicodeDecodeError:
            other_bytes += _high_byte_count(line)
    return utf8_bytes >= MIN_MIXED_UTF8_BYTES and utf8_bytes * MIXED_UTF8_SHARE_PER >= utf8_bytes + other_bytes


def _decode_mixed(lines: list[bytes]) -> Decoded:
    """UTF-8 where it is valid; the rest in the encoding detected on all of the rest together.

    Each line that is not valid UTF-8 is cut into a UTF-8 head, a stretch holding every invalid
    byte, and a UTF-8 tail (`_split_at_invalid_bytes`). A stretch is read as UTF-8 with
    windows-1252 for the invalid bytes when the detected encoding cannot decode it, when that
    encoding is single-byte and the stretch is mostly UTF-8, and when all stretches together hold
    too few non-ASCII bytes to detect anything.
    """
    pieces: list[str | bytes] = []  # text, or a stretch that waits for the detected encoding
    for line in lines:
        try:
            pieces.append(line.decode("utf-8"))
        except UnicodeDecodeError:
            head, stretch, tail = _split_at_invalid_bytes(line)
            pieces += [head.decode("utf-8"), stretch, tail.decode("utf-8")]
    stretches = b"".join(piece for piece in pieces if isinstance(piece, bytes))
    enough = _high_byte_count(stretches) >= MIN_DETECTION_HIGH_BYTES
    ranked = _ranked_codecs(_detection_sample(stretches)) if enough else []
    codec = ranked[0] if ranked else None
    used_codec = False
    texts = []
    for piece in pieces:
        if isinstance(piece, bytes):
            decoded = None
            if codec is not None and not (codec in _SINGLE_BYTE_CODECS and _mostly_utf8(piece)):
                decoded = _decode_as(piece, codec)[0]
            used_codec = used_codec or decoded is not None
            piece = decoded if decoded is not None else piece.decode("utf-8", errors=_FALLBACK_ERRORS)
        texts.append(piece)
    if used_codec:
        return Decoded("".join(texts), f"utf-8+{codec}", "mixed")
    return Decoded("".join(texts), FALLBACK_ENCODING, "fallback")


def _split_at_invalid_bytes(line: bytes) -> tuple[bytes, bytes, bytes]:
    """(valid UTF-8 head, stretch from the first to the last invalid byte, valid UTF-8 tail) of a line.

    Legacy multi-byte text can look like UTF-8 by chance (EUC-JP 0xCC 0xBE and GBK 0xD6 0xB5
    are valid pairs), and a stretch cut inside a legacy character makes detectors rule its
    encoding out. So fewer than MIN_UTF8_RUN_CHARS non-ASCII characters right before the first
    invalid byte join the stretch, the tail starts at an ASCII character (a UTF-8 line with a
    legacy start is the rarer case), and a head or tail with fewer than MIN_UTF8_RUN_CHARS
    non-ASCII characters in all joins the stretch too (it is then returned empty).
    """
    escaped = line.decode("utf-8", errors="surrogateescape")  # invalid bytes become U+DC80-U+DCFF
    invalid = [match.start() for match in _ESCAPED_BYTE_RE.finditer(escaped)]
    first, last = invalid[0], invalid[-1] + 1
    run_start = first
    while run_start > 0 and not escaped[run_start - 1].isascii():
        run_start -= 1
    if first - run_start < MIN_UTF8_RUN_CHARS:
        first = run_start
    while last < len(escaped) and not escaped[last].isascii():
        last += 1
    if len(_NON_ASCII_RE.findall(escaped, 0, first)) < MIN_UTF8_RUN_CHARS:
        first = 0
    if len(_NON_ASCII_RE.findall(escaped, last)) < MIN_UTF8_RUN_CHARS:
        last = len(escaped)
    return (
        escaped[:first].encode("utf-8"),
        escaped[first:last].encode("utf-8", errors="surrogateescape"),
        escaped[last:].encode("utf-8"),
    )


def _detect(data: bytes) -> Decoded | None:
    """The whole of `data` in the best codec the detectors find on a prefix; None if none decodes it."""
    for codec in _ranked_codecs(_detection_sample(data)):
        text, used_codec = _decode_as(data, codec)
        if text is not None:
            return Decoded(text, used_codec, "detected")
    return None


def _detection_sample(data: bytes) -> bytes:
    """At most DETECTION_PREFIX_BYTES of `data`, from its first line holding a non-ASCII byte.

    Cut at a line break so a multi-byte character is never split (0x0A is never a trail byte
    in Shift_JIS, GBK, Big5 or EUC-*); starting at the first non-ASCII line gives the detectors
    something to judge in a long English text with one accented name in chapter 5.
    """
    first_high = _HIGH_BYTE_RE.search(data)
    start = data.rfind(b"\n", 0, first_high.start()) + 1 if first_high else 0
    sample = data[start : start + DETECTION_PREFIX_BYTES]
    if start + DETECTION_PREFIX_BYTES < len(data):
        cut = sample.rfind(b"\n")
        if cut > 0:
            sample = sample[: cut + 1]
    return sample


def _ranked_codecs(sample: bytes) -> list[str]:
    """The codecs the detectors name for `sample`, most plausible decoding first.

    chardet is the most accurate alone (bench/encodings.py), so it is asked first and wins ties;
    when its reading has no flaw at all the others are not asked (this changed no answer in the
    benchmark and saved about a quarter of the detection time).
    """
    candidates: dict[str, str] = {}  # decoded sample -> codec, first detector first
    for detect in _DETECTORS:
        label = detect(sample)
        codec = _codec_for_label(_DETECTOR_LABELS.get(label.lower(), label)) if label else None
        text = _decode_as(sample, codec)[0] if codec else None
        if codec is not None and text is not None:
            candidates.setdefault(text, codec)
        if detect is _DETECTORS[0] and len(candidates) == 1 and implausibility(next(iter(candidates))) == 0:
            return list(candidates.values())
    # Detectors agree on the common member of a family more often than they should: when the
    # best reading has flaws, its siblings may have none (ISO-8859-16 read as ISO-8859-2).
    for codec in list(candidates.values()):
        for sibling in _SIBLING_CODECS.get(codec, ()):
            text = _decode_as(sample, sibling)[0]
            if text is not None:
                candidates.setdefault(text, sibling)
    # Least implausible first; ties keep the detectors' order. (Letting two detectors that agree
    # outvote chardet lost more files than it won: bench/encodings.py.)
    ranked = sorted(candidates, key=implausibility)
    return [candidates[text] for text in ranked]


def _chardet_label(sample: bytes) -> str | None:
    return chardet.detect(sample)["encoding"]


def _chardetng_label(sample: bytes) -> str | None:
    return chardetng_py.detect(sample)


def _uchardet_label(sample: bytes) -> str | None:
    return cchardet.detect(sample)["encoding"]


_DETECTORS = (_chardet_label, _chardetng_label, _uchardet_label)


def implausibility(text: str) -> int:
    """How much `text` looks like a wrong code page: 3 per impossible character, 1 per implausible one."""
    return 3 * len(_IMPOSSIBLE_RE.findall(text)) + len(_IMPLAUSIBLE_RE.findall(text))


def _decode_as(data: bytes, codec: str) -> tuple[str | None, str]:
    """(text, codec used) of `data` in `codec`, or in the narrowest CJK codec that decodes it."""
    for narrow in _NARROWER_CODECS.get(codec, (codec,)):
        text = _decode_declared(data, narrow)
        if text is not None:
            return text, narrow
    return None, codec


def _high_byte_count(data: bytes) -> int:
    return len(data) - len(data.translate(None, _HIGH_BYTES))
