"""Undeclared legacy encodings: which charset detector gives back the exact original text?

Run from the repository root (Debian or Ubuntu with apt-get; about 30 MB is downloaded once
into /tmp/textshards-encodings, then reused):
    .venv/bin/python bench/encodings.py [CORPORA_DIR]

The texts are real UTF-8 text in 30+ languages: Debian's translated manual pages (manpages-*,
roff markup stripped), the Korean Debian FAQ, GLib's message catalogues (Hebrew, Arabic, Thai,
the Baltic languages and others that have no translated manual pages) and the non-English
books and web pages of ../shared/corpora. Each text is encoded into every legacy code page
its language is written in that can represent it exactly, and decoded WITHOUT a declaration.
A file counts as right when the decoded text equals the original: for ISO-8859-1 vs windows-1252
or GB2312 vs GBK several labels give the same text, and any of them is right.

Also measured: files that mix UTF-8 lines with lines in a legacy encoding (as when two files are
concatenated), and UTF-16/32 without a byte-order mark.

Prints, per candidate, the share of exact decodes (with the wrong ones per code page) and its
speed in MB/s: input bytes per CPU second of this process (every candidate runs on one core;
CPU time, not wall time, because the development machine is shared and its load varies).
"""

from __future__ import annotations

import gettext
import gzip
import re
import shutil
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cchardet
import chardet
import chardetng_py
from charset_normalizer import from_bytes

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.conftest, the packages: from any directory
from tests.conftest import corpora_root
from transforms.encoding import _FALLBACK_ERRORS, _codec_for_label, _decode_declared, _mostly_utf8, decode_bytes
from transforms.html_text import extract_main_text
from transforms.langid import LanguageIdentifier

WORK_DIR = Path("/tmp/textshards-encodings")
MANPAGE_LANGUAGES = [
    "cs", "da", "de", "el", "es", "fi", "fr", "hu", "id", "it", "ja", "mk", "nb", "nl",
    "pl", "pt_BR", "ro", "ru", "sr", "sv", "tr", "uk", "zh_CN", "zh_TW",
]  # fmt: skip
# Languages without translated manual pages in Debian 12: their GLib message catalogue.
CATALOGUE_LANGUAGES = ["ar", "be", "bg", "ca", "et", "fa", "he", "hr", "is", "lt", "lv", "sk", "sl", "th"]
# manpages-zh holds both Chinese folders.
PACKAGES = [f"manpages-{lang.lower().replace('_', '-')}" for lang in MANPAGE_LANGUAGES if not lang.startswith("zh")] + [
    "manpages-zh",
    "debian-faq-ko",
    "libglib2.0-data",
]
PAGES_PER_LANGUAGE = 6
MIN_PAGE_CHARS = 1500
PREVIOUS_PREFIX_BYTES = 65536  # what decode_bytes gave charset-normalizer before
LONG_DOCUMENT_CHARS = 200_000  # one concatenation per language: longer than the detection prefix

WESTERN = ["iso8859-1", "iso8859-15", "cp1252"]
CENTRAL = ["iso8859-2", "cp1250", "iso8859-16"]
CYRILLIC = ["iso8859-5", "cp1251", "koi8-r", "koi8-u", "cp866"]
BALTIC = ["iso8859-4", "iso8859-13", "cp1257"]
GREEK = ["iso8859-7", "cp1253", "cp737", "cp869"]
# The code pages each language was written in. Vietnamese is missing: windows-1258 spells it with
# combining marks, so no legacy file gives back the precomposed original.
CODE_PAGES = {
    **{lang: WESTERN for lang in ["ca", "da", "de", "es", "fi", "fr", "id", "is", "it", "nb", "nl", "pt", "sv"]},
    **{lang: CENTRAL for lang in ["cs", "hr", "hu", "pl", "ro", "sk", "sl"]},
    **{lang: CYRILLIC for lang in ["be", "bg", "mk", "ru", "sr", "uk"]},
    **{lang: BALTIC for lang in ["lt", "lv"]},
    "et": BALTIC + WESTERN,
    "tr": ["iso8859-9", "cp1254", "iso8859-3"],
    "el": GREEK,
    "he": ["iso8859-8", "cp1255"],
    "ar": ["iso8859-6", "cp1256"],
    "fa": ["cp1256"],
    "th": ["tis-620", "cp874"],
    "ja": ["euc-jp", "shift_jis"],
    "ko": ["euc-kr"],
    "zh": ["gb2312", "gbk", "big5"],
}


@dataclass(frozen=True)
class Sample:
    """Bytes to decode, the text they must give back, and what they are."""

    data: bytes
    text: str
    language: str
    encoding: str  # the codec the text was encoded with, or "utf-8+<codec>" for a mixed file
    origin: str


# ---------------------------------------------------------------------------
# Texts


def fetch_packages() -> Path | None:
    """The unpacked Debian packages (downloaded and unpacked the first time); None without apt-get."""
    unpacked = WORK_DIR / "root"
    if unpacked.is_dir():
        return unpacked
    if shutil.which("apt-get") is None:
        return None
    debs = WORK_DIR / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    subprocess.run(["apt-get", "download", *PACKAGES], cwd=debs, check=True, capture_output=True)
    staging = WORK_DIR / "staging"
    for deb in sorted(debs.glob("*.deb")):
        subprocess.run(["dpkg-deb", "-x", str(deb), str(staging)], check=True)
    staging.rename(unpacked)
    return unpacked


_ROFF_TEXT_MACROS = re.compile(r"^\.(SH|SS|B|I|BI|BR|IB|IR|RB|RI|SM|SB|TP|IP|Nm|Nd|Ar|Fl)\b\s*(.*)$")
_ROFF_ESCAPE = re.compile(r"\\(f\[[^]]*\]|f\(..|f.|s[+-]?\d|\(..|\*\(..|\*\[[^]]*\]|\*.|\[[^]]*\]|[&c%|^])")
_ROFF_LITERALS = {"\\-": "-", "\\e": "\\", "\\ ": " ", "\\~": " ", "\\(aq": "'", "\\(dq": '"'}


def roff_to_text(source: str) -> str:
    """The running text of a manual page: requests dropped, text macros' arguments kept, escapes removed."""
    lines = []
    for line in source.splitlines():
        if line.startswith(('.\\"', "'\\\"")):  # comments
            continue
        if line.startswith((".", "'")):
            macro = _ROFF_TEXT_MACROS.match(line)
            if not macro or not macro.group(2):
                continue
            line = macro.group(2).replace('"', "")
        for escape, literal in _ROFF_LITERALS.items():
            line = line.replace(escape, literal)
        line = _ROFF_ESCAPE.sub("", line).replace("\\", "")
        if line.strip():
            lines.append(line.strip())
    return "\n".join(lines) + "\n"


def manual_page_texts(root: Path, language: str) -> list[str]:
    """PAGES_PER_LANGUAGE pages spread over the language's sorted pages, then one long concatenation."""
    paths = sorted((root / "usr/share/man" / language).rglob("*.gz"))
    texts = []
    for path in paths:
        try:
            text = roff_to_text(gzip.decompress(path.read_bytes()).decode("utf-8"))
        except (UnicodeDecodeError, OSError):
            continue
        if len(text) >= MIN_PAGE_CHARS and not text.isascii():
            texts.append(text)
    step = max(1, len(texts) // PAGES_PER_LANGUAGE)
    chosen = texts[::step][:PAGES_PER_LANGUAGE]
    return chosen + [long_document(texts)]


def long_document(texts: list[str]) -> str:
    """`texts` joined until LONG_DOCUMENT_CHARS: a book-length file, longer than any detection sample."""
    joined = ""
    for text in texts:
        if len(joined) >= LONG_DOCUMENT_CHARS:
            break
        joined += text + "\n"
    return joined


def catalogue_texts(root: Path, language: str) -> list[str]:
    """The translated messages of GLib, as one text and as two 4,000-character pieces of it."""
    with open(root / "usr/share/locale" / language / "LC_MESSAGES/glib20.mo", "rb") as catalogue:
        # GNUTranslations can look a message up but not list them: its catalogue is the only way.
        messages = gettext.GNUTranslations(catalogue)._catalog.values()  # type: ignore[attr-defined]
    text = "\n".join(message for message in messages if isinstance(message, str) and not message.isascii())
    middle = len(text) // 2
    return [text, text[:4000], text[middle : middle + 4000]]


def korean_faq_texts(root: Path) -> list[str]:
    """The Korean Debian FAQ, whole and in 8,000-character pieces cut at blank lines."""
    text = gzip.decompress((root / "usr/share/doc/debian/FAQ/debian-faq.ko.txt.gz").read_bytes()).decode("utf-8")
    pieces, start = [], 0
    while start < len(text) and len(pieces) < PAGES_PER_LANGUAGE:
        end = text.find("\n\n", start + 8000)
        end = len(text) if end < 0 else end + 1
        pieces.append(text[start:end])
        start = end + 1
    return pieces + [text]


def corpora_texts(root: Path) -> list[tuple[str, str, str]]:
    """(language, text, path) of each non-English UTF-8 book and web page (main text) of the corpora."""
    identifier = LanguageIdentifier()
    found = []
    for folder, kind in [("books", "text"), ("web/html", "html")]:
        for path in sorted((root / folder).rglob("*")):
            if not path.is_file():
                continue
            try:
                text = path.read_bytes().decode("utf-8").removeprefix("\ufeff")
            except UnicodeDecodeError:
                continue
            if kind == "html":
                text = extract_main_text(text)
            language, score = identifier.identify(text)
            if language != "en" and score >= 0.5 and language in CODE_PAGES and not text.isascii():
                found.append((language, text, str(path.relative_to(root))))
    # The corpora's web pages are mostly German: at most PAGES_PER_LANGUAGE per language keeps the balance.
    per_language: Counter = Counter()
    balanced = []
    for language, text, origin in found:
        per_language[language] += 1
        if per_language[language] <= PAGES_PER_LANGUAGE:
            balanced.append((language, text, origin))
    return balanced


def all_texts(root: Path, corpora: Path | None) -> list[tuple[str, str, str]]:
    """(language, text, origin) of every text in the evaluation, `root` holding the unpacked packages."""
    texts = []
    for language in MANPAGE_LANGUAGES:
        family = language.split("_")[0].lower()
        texts += [(family, text, f"manpages {language}") for text in manual_page_texts(root, language)]
    texts += [("ko", text, "debian-faq-ko") for text in korean_faq_texts(root)]
    for language in CATALOGUE_LANGUAGES:
        texts += [(language, text, f"glib20.mo {language}") for text in catalogue_texts(root, language)]
    if corpora is not None:
        texts += corpora_texts(corpora)
    return texts


def representable_lines(text: str, codec: str) -> str:
    """The lines of `text` that `codec` can encode: what a file in that code page would have held.

    Translations use typographic quotes and dashes that many code pages lack (KOI8-R has no «»),
    and a real legacy file would have been written without them.
    """
    kept = []
    for line in text.splitlines(keepends=True):
        try:
            line.encode(codec)
        except UnicodeEncodeError:
            continue
        kept.append(line)
    return "".join(kept)


def legacy_samples(texts: list[tuple[str, str, str]]) -> list[Sample]:
    """Each text in each of its language's code pages (identical bytes once).

    A text that a code page cannot represent whole is kept with the lines it can, when at least
    MIN_PAGE_CHARS characters and some non-ASCII letters remain.
    """
    samples = []
    for language, text, origin in texts:
        seen = set()
        for codec in CODE_PAGES[language]:
            kept = representable_lines(text, codec)
            if len(kept) < min(len(text), MIN_PAGE_CHARS):
                continue
            data = kept.encode(codec)
            if data in seen or data.isascii() or data.decode(codec) != kept:
                continue
            seen.add(data)
            samples.append(Sample(data, kept, language, codec, origin))
    return samples


def mixed_samples(texts: list[tuple[str, str, str]]) -> list[Sample]:
    """A UTF-8 text followed by another text of the same language in a legacy code page.

    The two meet at a line break, as when two files are concatenated.
    """
    samples = []
    by_language = defaultdict(list)
    for language, text, origin in texts:
        if len(text) < 20_000:
            by_language[language].append((text, origin))
    for language, codec in [("ja", "shift_jis"), ("ja", "euc-jp"), ("zh", "gbk"), ("ru", "cp1251"), ("de", "cp1252")]:
        pairs = by_language[language]
        for (first, origin), (second, _) in zip(pairs, pairs[1:]):
            first = first.rstrip("\n") + "\n"
            try:
                data = first.encode("utf-8") + second.encode(codec)
            except UnicodeEncodeError:
                continue
            samples.append(Sample(data, first + second, language, f"utf-8+{codec}", origin))
    return samples


def wide_samples(texts: list[tuple[str, str, str]]) -> list[Sample]:
    """Every text in UTF-16 and UTF-32, both byte orders, without a byte-order mark."""
    codecs_ = ["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"]
    return [
        Sample(text.encode(codec), text, language, codec, origin)
        for language, text, origin in texts
        for codec in codecs_
    ]


# ---------------------------------------------------------------------------
# Candidates: bytes -> text, or None where the candidate gives up


def _decode_label(data: bytes, label: str | None) -> str | None:
    """`data` decoded strictly with the codec a detector named; None if there is none or it fails."""
    if not label:
        return None
    try:
        return data.decode(label)
    except (LookupError, UnicodeDecodeError):
        return None


def chardet_decode(data: bytes) -> str | None:
    return _decode_label(data, chardet.detect(data)["encoding"])


def uchardet_decode(data: bytes) -> str | None:
    return _decode_label(data, cchardet.detect(data)["encoding"])


def chardetng_decode(data: bytes) -> str | None:
    return _decode_label(data, chardetng_py.detect(data))


def charset_normalizer_whole(data: bytes) -> str | None:
    best = from_bytes(data).best()
    return None if best is None else _decode_label(data, best.encoding)


def _prefix_at_line_break(data: bytes, size: int) -> bytes:
    prefix = data[:size]
    if len(data) > size and prefix.rfind(b"\n") > 0:
        prefix = prefix[: prefix.rfind(b"\n") + 1]
    return prefix


def charset_normalizer_prefix(data: bytes) -> str | None:
    """charset-normalizer on the first 64 KB (cut at a line break), confirmed on the whole input."""
    best = from_bytes(_prefix_at_line_break(data, PREVIOUS_PREFIX_BYTES)).best()
    return None if best is None else _decode_label(data, best.encoding)


def decode_bytes_before(data: bytes) -> str:
    """decode_bytes as it was before this benchmark (commit c6029d5), on input without BOM or label.

    Strict UTF-8; else, unless multi-byte UTF-8 sequences outnumber invalid bytes, charset-normalizer
    on the 64 KB prefix, read the WHATWG way and confirmed on the whole input; else UTF-8 with
    windows-1252 for each invalid byte.
    """
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    if not _mostly_utf8(data):
        best = from_bytes(_prefix_at_line_break(data, PREVIOUS_PREFIX_BYTES)).best()
        codec = None if best is None else _codec_for_label(best.encoding)
        text = None if codec is None else _decode_declared(data, codec)
        if text is not None:
            return text
    return data.decode("utf-8", errors=_FALLBACK_ERRORS)


def decode_bytes_text(data: bytes) -> str:
    return decode_bytes(data).text


CANDIDATES: dict[str, Callable[[bytes], str | None]] = {
    f"chardet {chardet.__version__}": chardet_decode,
    f"uchardet (faust-cchardet {cchardet.__version__})": uchardet_decode,
    "chardetng (chardetng-py)": chardetng_decode,
    "charset-normalizer, whole file": charset_normalizer_whole,
    "charset-normalizer, 64 KB prefix": charset_normalizer_prefix,
    "decode_bytes before (c6029d5)": decode_bytes_before,
    "decode_bytes now (vote)": decode_bytes_text,
}


# ---------------------------------------------------------------------------
# Measurement


def evaluate(name: str, decode: Callable[[bytes], str | None], samples: list[Sample]) -> tuple[Counter, Counter, float]:
    """(right per code page, files per code page, seconds) of one candidate over `samples`."""
    right: Counter = Counter()
    total: Counter = Counter()
    seconds = 0.0
    for sample in samples:
        started = time.process_time()
        text = decode(sample.data)
        seconds += time.process_time() - started
        total[sample.encoding] += 1
        right[sample.encoding] += text == sample.text
    return right, total, seconds


def print_report(name: str, samples: list[Sample], right: Counter, total: Counter, seconds: float) -> None:
    megabytes = sum(len(sample.data) for sample in samples) / 1e6
    share = sum(right.values()) / sum(total.values())
    misses = ", ".join(
        f"{codec} {total[codec] - right[codec]}" for codec in sorted(total) if right[codec] < total[codec]
    )
    print(f"{name:42s} {sum(right.values()):5d}/{sum(total.values()):<5d} {share:7.1%} {megabytes / seconds:8.2f} MB/s")
    if misses:
        print(f"{'':42s} wrong: {misses}")


def main() -> None:
    corpora = Path(sys.argv[1]) if len(sys.argv) > 1 else corpora_root()
    root = fetch_packages()
    if root is None:
        print("skipped: the texts come from Debian packages, and this system has no apt-get")
        return
    texts = all_texts(root, corpora)
    languages = sorted({language for language, _, _ in texts})
    samples = legacy_samples(texts)
    mixed = mixed_samples(texts)
    wide = wide_samples(texts)
    print(f"{len(texts)} texts in {len(languages)} languages ({' '.join(languages)})")
    print(
        f"{len(samples)} legacy files ({sum(len(s.data) for s in samples) / 1e6:.1f} MB) in "
        f"{len({s.encoding for s in samples})} code pages; {len(mixed)} mixed UTF-8 + legacy; {len(wide)} UTF-16/32"
    )
    for title, group in [
        ("legacy, undeclared", samples),
        ("mixed UTF-8 + legacy lines", mixed),
        ("UTF-16/32, no BOM", wide),
    ]:
        print(f"\n== {title}: exact original text, speed (one core)")
        for name, decode in CANDIDATES.items():
            right, total, seconds = evaluate(name, decode, group)
            print_report(name, group, right, total, seconds)


if __name__ == "__main__":
    main()
