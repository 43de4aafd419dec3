"""Project Gutenberg header and footer removal.

`strip_gutenberg(text)` returns the body of a Project Gutenberg plain-text book without the
licence header and footer and without the "Produced by ..." credits that follow the header.
Text that carries no Gutenberg boilerplate comes back unchanged. docs/gutenberg.md lists the
marker styles handled and how closely the result matches the c-w/gutenberg reference texts.

Only the first and last SEARCH_CHARS characters are searched for boilerplate, so the cost per
book does not grow with its length beyond one newline normalisation (and, in a book's HTML edition
with marked code blocks, one scan for fence lines: the body must not start or end inside a block).
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from typing import Literal

from transforms.filters.code_blocks import block_spans

# Every header we have seen ends within 15 KB (the 2001-era small print is the longest) and
# every footer starts within 21 KB of the end; 32 KB leaves room without reading whole books.
SEARCH_CHARS = 32_768
# 1992-era etexts open with a page or two about the etext; its last paragraph lies within this.
OLD_INTRO_CHARS = 8_000
# Credits after a header are one to four paragraphs; the bound keeps a book whose own opening
# pages discuss Project Gutenberg from being eaten.
MAX_CREDIT_PARAGRAPHS = 8

Method = Literal["markers", "old_etext_header", "footer_only", "none"]


@dataclass(frozen=True)
class StrippedBook:
    """The body of a book and how its boilerplate was recognised.

    `text`: the body with '\\n' line endings, no leading blank lines, no trailing whitespace
    (nor the Ctrl-Z end-of-file marks of DOS-era etexts);
    when `method` is "none" it is the input itself, untouched (line endings included).
    `method`:
      "markers"          - a `*** START OF THE/THIS PROJECT GUTENBERG EBOOK ... ***` marker ended
                           the header (2002 onwards);
      "old_etext_header" - no START marker, but an older etext header: the 2001-era
                           "*END*THE SMALL PRINT!" line or a 1992-era introduction about the etext;
      "footer_only"      - no header recognised, only a footer ("*** END OF ..." or
                           "End of (the) Project Gutenberg ..."), which was cut;
      "none"             - no Gutenberg boilerplate found.
    """

    text: str
    method: Method


# The title may wrap, putting the closing *** on the next line or the one after (never across
# a blank line); a marker missing its closing *** ends with its own line.
_START_MARKER = re.compile(
    r"^[\ufeff \t]*\*{3}[ \t]*START OF TH(?:E|IS) PROJECT GUTENBERG E-?BOOK"
    r"(?:(?:[^*\n]*\n(?![ \t]*\n)){0,2}?[^*\n]*\*{3}[^\n]*|[^\n]*)",
    re.IGNORECASE | re.MULTILINE,
)
# Both "*END*THE SMALL PRINT!" and "*END THE SMALL PRINT!" occur.
_SMALL_PRINT_END = re.compile(r"^[ \t]*\*END\*?[ \t]*THE SMALL PRINT![^\n]*", re.MULTILINE)
# The footer starts at the END marker or, where present, at the "End of the Project Gutenberg
# EBook of ..." line just above it; old etexts have only the latter (1992: "*End of The ...").
_FOOTER_START = re.compile(
    r"^[ \t]*(?:\*{3}[ \t]*END OF TH(?:E|IS) PROJECT GUTENBERG E-?BOOK"
    r"|\*?End of (?:the )?Project Gutenberg)",
    re.IGNORECASE | re.MULTILINE,
)
# Project Gutenberg's HTML5 editions (2020s) hold their header and footer in elements of this class
# (`<section class="pg-boilerplate pgheader" id="pg-header">`, `... id="pg-footer">`), which the clean
# stage removes before extraction; older HTML editions have them as text, in <pre> blocks or paragraphs.
GUTENBERG_HTML_CLASSES = frozenset({"pg-boilerplate"})
_PARAGRAPH = re.compile(r"[^\n]*\S[^\n]*(?:\n[^\n]*\S[^\n]*)*")  # a run of non-blank lines
_NAMES_GUTENBERG = re.compile(r"project\s+gutenberg", re.IGNORECASE)  # the name may wrap
# Who produced the etext and from which scans: "Produced by", "E-text prepared by",
# "Transcribed from the 1908 ... edition by", notes naming Project Gutenberg, scan-source
# thanks with their URLs, and the "***" rule some books put between two of these.
# Transcriber's notes about the text itself are kept, as the reference texts keep them.
_CREDIT_PARAGRAPH = re.compile(
    r"\A\s*(?:produced by|e-?text prepared by|transcribed (?:from|by)|scanned and proofread"
    r"|credit for e-?text|special thanks|this e-?text was (?:produced|prepared))"
    r"|project\s+gutenberg|distributed\s+proofread|https?://|www[.:]"
    r"|\A[\s*]+\Z",
    re.IGNORECASE,
)


def strip_gutenberg(text: str) -> StrippedBook:
    """Remove the Project Gutenberg header, footer and producer credits from one book.

    Input: the whole decoded book; '\r\n' or '\n' line endings; a leading BOM is tolerated.
    Output: StrippedBook(text=body, method=how the boilerplate was found); see StrippedBook.
    """
    body = find_body(text)
    return StrippedBook(body.text[body.start : body.end], body.method)


@dataclass(frozen=True)
class BookBody:
    """Where the body of a book lies: text[start:end] is what strip_gutenberg returns. `text` is the
    book with '\n' line endings (the input itself where it had no '\r\n', or where `method` is "none").
    A caller that takes the body a piece at a time never holds a copy of it beside the book."""

    text: str
    start: int
    end: int
    method: Method


def find_body(text: str) -> BookBody:
    """Where strip_gutenberg's body of `text` lies; offsets first, the book is never copied here
    but for its line endings (docs/reliability.md, "Memory per document")."""
    normalised = text.replace("\r\n", "\n")
    header_end, method = _find_header_end(normalised)
    footer_start = _find_footer_start(normalised, header_end)
    if method == "none":
        if footer_start is None:
            return BookBody(text, 0, len(text), "none")
        method = "footer_only"
    # An HTML edition with its code blocks marked has its header and footer in fenced <pre> blocks:
    # the body starts after the block that ends the header and ends before the one the footer opens.
    # A block that goes on for more than SEARCH_CHARS after the header is the book itself, in one
    # <pre> (so are header and footer in the same block): the body is then the text inside it.
    header_block = _marked_block_around(normalised, header_end)
    footer_block = _marked_block_around(normalised, footer_start) if footer_start is not None else None
    if header_block and header_block != footer_block and header_block[1] - header_end <= SEARCH_CHARS:
        header_end = header_block[1]
    if footer_block and footer_block != header_block:
        footer_start = footer_block[0]
    start = _after_credit_paragraphs(normalised, header_end, footer_start)
    return BookBody(normalised, *_without_blank_edges(normalised, start, footer_start), method)


def _find_header_end(text: str) -> tuple[int, Method]:
    """Offset just past the header (0 if there is none) and which kind of header it was."""
    head = text[:SEARCH_CHARS]
    # Each marker holds a literal ("***", "SMALL PRINT!") that `in` finds ten times faster than the
    # regex tries every line start: most texts are not Gutenberg books and hold neither.
    # START marker first: some books also carry a small print, but in their footer.
    start_marker = _START_MARKER.search(head) if "***" in head else None
    if start_marker:
        return start_marker.end(), "markers"
    small_print = _SMALL_PRINT_END.search(head) if "SMALL PRINT!" in head else None
    if small_print:
        return small_print.end(), "old_etext_header"
    intro_end = _old_intro_end(head)
    if intro_end:
        return intro_end, "old_etext_header"
    return 0, "none"


def _old_intro_end(head: str) -> int:
    """End of a 1992-era etext introduction, or 0 where the text does not open with one.

    Such a header opens with a paragraph naming Project Gutenberg ("The Project Gutenberg Etext
    of ...", "This is the February 1992 Project Gutenberg release of:") and runs on, with
    paragraphs that need not name it, up to the last paragraph near the top that does.
    """
    paragraphs = list(_PARAGRAPH.finditer(head[:OLD_INTRO_CHARS]))
    if not paragraphs or not _NAMES_GUTENBERG.search(paragraphs[0].group()):
        return 0
    return max(p.end() for p in paragraphs if _NAMES_GUTENBERG.search(p.group()))


def _find_footer_start(text: str, header_end: int) -> int | None:
    """Offset of the first footer line after the header in the book's tail, or None."""
    footer = _FOOTER_START.search(text, max(header_end, len(text) - SEARCH_CHARS))
    return footer.start() if footer else None


def _marked_block_around(text: str, position: int) -> tuple[int, int] | None:
    """(start, end) of the marked code block (transforms/filters/code_blocks.py) that `position`
    lies inside; None where it is in none."""
    return next(((start, end) for start, end in block_spans(text) if start < position < end), None)


def _after_credit_paragraphs(text: str, start: int, end: int | None) -> int:
    """Where text[start:end] goes on after the producer credits and PG notes that open it."""
    position = start
    for _ in range(MAX_CREDIT_PARAGRAPHS):
        paragraph = _PARAGRAPH.search(text, position, len(text) if end is None else end)
        if paragraph is None or not _CREDIT_PARAGRAPH.search(paragraph.group()):
            break
        position = paragraph.end()
    return position


_LEADING_BLANK_LINES = re.compile(r"(?:[ \t]*\n)+")
_TRAILING_WHITESPACE = string.whitespace + "\x1a"


def _without_blank_edges(text: str, start: int, end: int | None) -> tuple[int, int]:
    """(start, end) of text[start:end] without its leading blank lines (keeping the first line's
    indentation) and trailing whitespace.

    Trailing Ctrl-Z characters go too: 1992-era DOS etexts end with them as end-of-file marks.
    """
    end = len(text) if end is None else end
    leading = _LEADING_BLANK_LINES.match(text, start, end)
    start = leading.end() if leading else start
    while end > start and text[end - 1] in _TRAILING_WHITESPACE:
        end -= 1
    return start, end
