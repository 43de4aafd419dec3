"""Cleaning: a raw document in, clean text (or the reason it was dropped) out.

    bytes --decode--> text --main text (HTML)--> --mojibake, ftfy--> --Gutenberg strip (books)--> --normalise-->

`clean_document` is the whole stage as a pure function; transforms/document_stage.py runs it
on every document a worker reads, with the filters.
"""

from __future__ import annotations

import traceback
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import lxml.etree

from transforms.encoding import decode_bytes
from transforms.gutenberg import GUTENBERG_HTML_CLASSES, find_body
from transforms.html_text import CODE_BLOCKS, extract_main_text
from transforms.mojibake import repair_transliterated_mojibake
from transforms.normalize import normalize_pieces
from transforms.records import Document, RawDocument, ReadError
from transforms.settings import must_be_non_negative, setting
from transforms.text_pieces import pieces
from transforms.unicode_fix import fix_text_pieces


@dataclass
class CleanConfig:
    strip_gutenberg: bool = setting(
        "Remove Project Gutenberg headers, footers and licence text from books, plain text or HTML editions.",
        default=True,
    )
    fix_unicode: bool = setting("Repair mojibake and other Unicode damage with ftfy.", default=True)
    code_blocks: str = setting(
        "Code blocks of HTML pages (<pre>, highlighted code): 'keep' their lines, 'drop' them, or 'mark' them "
        "(kept between ``` lines, which the filters judge apart from the prose and carry through: "
        "docs/extraction.md). 'keep': the web filters read code as prose and drop the page or cut it to fragments.",
        default="mark",
    )
    min_chars: int = setting(
        "Documents with fewer characters than this after cleaning are dropped (reason 'too_short_after_cleaning').",
        default=1,
    )

    def problems(self) -> list[str]:
        problems = must_be_non_negative("clean.min_chars", self.min_chars)
        if self.code_blocks not in CODE_BLOCKS:
            problems.append(f"clean.code_blocks: {self.code_blocks!r} must be one of {', '.join(CODE_BLOCKS)}")
        return problems


@dataclass(frozen=True)
class Dropped:
    """A document that was read fine but holds nothing worth keeping."""

    reason: str


def clean_document(doc: RawDocument, config: CleanConfig, removed: Counter[str] | None = None) -> Document | Dropped:
    """The cleaned document as an output row, or why it was dropped.

    The row has the columns of docs/*.parquet that cleaning fills: id, source, url, kind, container,
    encoding, text (the filter stage adds language and language_score).
    `encoding` says how the bytes were decoded, as "codec (method)": "utf-8 (bom)", "cp1252 (declared)"...,
    or "unicode" where the container already held text (JSON, Parquet, WET).
    `removed`, where given, is added the count of what cleaning removed that would otherwise go
    unseen: "nul_characters" (a file with NULs in its first 8 KB is not read as text at all; NULs
    further on are removed here with the other control characters).
    """
    if isinstance(doc.data, bytes):
        decoded = decode_bytes(doc.data, doc.declared_charset, kind=doc.kind)
        text, encoding = decoded.text, f"{decoded.encoding} ({decoded.method})"
    else:
        text, encoding = doc.data, "unicode"
    if removed is not None and "\x00" in text:
        removed["nul_characters"] += text.count("\x00")
    if doc.kind == "html":
        boilerplate = GUTENBERG_HTML_CLASSES if config.strip_gutenberg else frozenset()
        text = extract_main_text(text, doc.url, config.code_blocks, boilerplate)
        if not text.strip():
            return Dropped("html_nested_too_deep" if _nested_too_deep(doc.data) else "no_main_text")
    # Line by line work takes the text a piece at a time, never holding a second copy of it in pieces
    # beside the one being made (docs/reliability.md, "Memory per document").
    text_pieces = pieces(text)
    if config.fix_unicode:
        text_pieces = fix_text_pieces(map(repair_transliterated_mojibake, text_pieces))
    if config.strip_gutenberg and doc.kind in ("text", "html"):
        text_pieces = _body_pieces("".join(text_pieces), markers_only=doc.kind == "html")
    text = normalize_pieces(text_pieces, nfc=config.fix_unicode)
    if len(text) < max(config.min_chars, 1):
        return Dropped("too_short_after_cleaning")
    return {
        "id": doc.id,
        "source": doc.source,
        "url": doc.url,
        "kind": doc.kind,
        "container": doc.container,
        "encoding": encoding,
        "text": text,
    }


def _body_pieces(book: str, markers_only: bool) -> Iterator[str]:
    """The pieces of `book` without its Project Gutenberg boilerplate, sliced from the book itself:
    the book is let go when the last piece is taken, and its body is never copied whole.

    markers_only: cut only where a START marker ends a header. For web pages: an HTML edition of a
    book has one, and a page about Project Gutenberg, whose first paragraph names it (as a 1992-era
    header does) or whose last lines quote a footer's first words, keeps its text."""
    body = find_body(book)
    if markers_only and body.method != "markers":
        yield from pieces(book)
        return
    yield from pieces(body.text, start=body.start, end=body.end)


def _nested_too_deep(html: bytes | str) -> bool:
    """True if libxml2, the parser under the HTML extractor, stops at `html`'s nesting depth
    (256 elements): what lies deeper is lost, and the page usually comes out empty."""
    parser = lxml.etree.HTMLParser()
    try:
        lxml.etree.fromstring(html, parser)
    except (lxml.etree.LxmlError, ValueError):
        pass
    return any(error.type_name == "ERR_RESOURCE_LIMIT" for error in parser.error_log)


def clean_failure(doc: RawDocument, err: Exception) -> ReadError:
    """The dead letter of a document whose cleaning raised: a defect in one document must not end the job."""
    return ReadError(
        doc.source,
        doc.path,
        doc.position,
        "clean_failed",
        f"{type(err).__name__}: {err} | {traceback.format_exc(limit=-1).strip()}",
        doc.excerpt(),
    )
