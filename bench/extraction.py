"""HTML main-text extraction against complete references: Python's HTML manual and its reST sources,
and two Debian manuals against their plain-text editions.

Run from the repository root:

    .venv/bin/python bench/extraction.py [--docs DIR] [--corpora ../shared/corpora] [--runs 3] [--sections abc]

Debian's python3.11-doc ships every page of the Python manual as HTML together with the reST file it
was built from (_sources/<page>.rst.txt). Without --docs, the bench downloads that package with
`apt-get download` and unpacks it with `dpkg-deb -x` under /tmp/textshards-extraction (once; later
runs reuse it). --docs names the unpacked html/ folder instead. debian-faq and maint-guide, fetched the
same way, ship their manual as HTML, a page a chapter, and as one plain-text file (DocBook's text
output): each chapter page is scored against its chapter of the text (`text_reference`).

For each page with a source, the reST is turned into reference text (`rest_reference`): prose with
markup removed and what Sphinx renders in its place, a line for each paragraph, list item, term,
signature and heading, and the code lines (literal blocks, doctests, code-block and doctest
directives) apart. The extractors: "before", the project's extractor until
2026-12-06 (trafilatura's plain text, one paragraph per line), and
transforms.html_text.extract_main_text with code blocks kept, kept between ``` fences, and dropped.

(a) Each extractor's scores, pooled over pages, against the whole reference (against the prose
alone where code is dropped):

* word recall and precision: bag of words (NFKC, casefolded, \\w+ runs) of the output against the
  reference, min(count in output, count in reference) summed, over the reference's and output's words;
* mid-sentence breaks: of the breaks between two non-empty output lines, those after a line without
  terminal punctuation and before a line that starts lower-case; breaks next to a line of the
  reference's code (or a ``` fence line, part of a marked block) are left out of both counts.
  Counted over all line breaks, and over paragraph breaks alone (a blank line between the two
  lines); the mid-sentence paragraph breaks are also shown as a share of all breaks, issue 13's
  "mid-sentence paragraph breaks ... <= 2% of breaks" read as written. The reference's own lines
  are scored the same way ("the reference itself"): the rate a perfect extractor would have. Many
  such breaks are structure, not cuts: a heading before "asyncio is a library...", a C signature
  "int PyList_Check(...)" after its section title. So "cuts" also counts those of them where the
  two words before the break and the two after it follow each other in one paragraph of the
  reference, the lines not being table rows: a sentence the extractor cut;
* glued words: output words that are not reference words but are two reference words joined;
* speed: MB/s of HTML per CPU second of this process (wall time on a shared machine measures the
  other jobs), median of --runs passes over every fourth page of the Python manual (a pass over all
  takes minutes).

(b) What the filters then do with each code-block setting: every Python page's text, cleaned as prepare
cleans it (ftfy, whitespace), through the default web filter steps; pages kept, why the others were
dropped, and the prose recall of what is kept (words of the reference's prose found in the kept
text, over all the prose words of all pages).

(c) trafilatura's gold snippets on the corpora, scored as bench/web_readers.py does, for the same
extractors. Write-up: docs/extraction.md.
"""

from __future__ import annotations

import argparse
import gzip
import re
import statistics
import sys
import tempfile
import time
import unicodedata
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from html import unescape
from pathlib import Path

import trafilatura

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from bench.measure import default_corpora, unpacked_debian_package
from bench.web_readers import bench_extract_quality, print_quality
from transforms.filters.code_blocks import is_fence, split_marked_code
from transforms.filters.stage import FiltersConfig, Steps, filter_document
from transforms.html_text import PERMALINK, extract_main_text
from transforms.normalize import normalize_whitespace
from transforms.unicode_fix import fix_text

PACKAGE = "python3.11-doc"
UNPACK_DIR = Path(tempfile.gettempdir()) / "textshards-extraction"
HTML_IN_PACKAGE = Path("usr/share/doc/python3.11/html")


def extract_before(html: str, url: str | None = None) -> str:
    """The project's extractor before this evaluation: trafilatura's text, each of its lines a paragraph."""
    text = trafilatura.extract(PERMALINK.sub("", html), url=url, include_comments=False) or ""
    return "\n\n".join(line.strip() for line in text.splitlines() if line.strip())


# name -> (extractor, whether its score counts the reference's code)
EXTRACTORS: dict[str, tuple[Callable[[str, str | None], str], bool]] = {
    "before": (extract_before, True),
    "new, code kept": (lambda html, url=None: extract_main_text(html, url, code_blocks="keep"), True),
    "new, code marked": (lambda html, url=None: extract_main_text(html, url, code_blocks="mark"), True),
    "new, code dropped": (lambda html, url=None: extract_main_text(html, url, code_blocks="drop"), False),
}


def unpacked(package: str, path: Path) -> Path:
    """UNPACK_DIR / `path`, a path in Debian's `package`, downloaded and unpacked there unless it is."""
    return unpacked_debian_package(package, UNPACK_DIR) / path


def page_pairs(html_root: Path) -> list[tuple[Path, Path]]:
    """(page.html, its _sources/page.rst.txt) for every page built from a reST source."""
    pairs = []
    for source in sorted((html_root / "_sources").rglob("*.rst.txt")):
        page = html_root / source.relative_to(html_root / "_sources").with_suffix("").with_suffix(".html")
        if page.is_file():
            pairs.append((page, source))
    return pairs


# ---------------------------------------------------------------------------
# reST -> reference text


@dataclass
class Reference:
    prose: str  # what the page says in words, markup removed
    code: list[str]  # the lines of its code blocks


# Directives whose content is not on the page, or is another page's (toctree: titles of other
# pages; include/literalinclude: other files), so no reference for it exists here.
HIDDEN_DIRECTIVES = {
    "index", "toctree", "include", "literalinclude", "highlight", "module", "currentmodule", "moduleauthor",
    "sectionauthor", "testsetup", "testcleanup", "tabularcolumns", "image", "figure", "contents", "only",
    "audit-event", "program", "miscnews", "limited-api-list", "raw", "meta",
}  # fmt: skip
CODE_DIRECTIVES = {"code-block", "sourcecode", "code", "doctest", "testcode", "testoutput", "productionlist"}
# Words Sphinx writes for an admonition or object, before its argument or text.
DIRECTIVE_LABELS = {
    "note": "Note", "warning": "Warning", "seealso": "See also", "important": "Important", "caution": "Caution",
    "versionadded": "New in version", "versionchanged": "Changed in version", "deprecated": "Deprecated since version",
    "deprecated-removed": "Deprecated since version, will be removed in version",
    "impl-detail": "CPython implementation detail:", "availability": "Availability:",
    "class": "class", "exception": "exception", "classmethod": "classmethod", "staticmethod": "static",
    "coroutinefunction": "coroutine", "coroutinemethod": "coroutine", "awaitablefunction": "awaitable",
    "awaitablemethod": "awaitable", "abstractmethod": "abstractmethod", "decorator": "@",
}  # fmt: skip
VERSION_NOTES = {"versionadded", "versionchanged", "deprecated"}
# Directives whose argument runs on in the lines after it (other directives' next lines are signatures).
ADMONITIONS = {
    "note", "warning", "seealso", "important", "caution", "versionadded", "versionchanged", "deprecated",
    "deprecated-removed", "impl-detail", "availability", "rubric", "topic", "sidebar", "list-table", "csv-table",
}  # fmt: skip
# Objects Sphinx names with their module ("shlex.split") where they are not nested in a class.
MODULE_PREFIXED = {"function", "class", "exception", "data", "decorator", "coroutinefunction", "awaitablefunction"}

DIRECTIVE = re.compile(r"^(\s*)\.\.\s+([\w:-]+)::\s*(.*)$")
EXPLICIT_MARKUP = re.compile(r"^(\s*)\.\.(\s|$)")  # a comment, target, substitution or footnote
FOOTNOTE = re.compile(r"^(\s*)\.\.\s+\[[^\]]+\]\s+(.*)$")
ADORNMENT = re.compile(r"^\s*([!-/:-@\[-`{-~])\1{2,}\s*$")  # section underlines, transitions, table rules
OPTION = re.compile(r"^\s*:[\w -]+:")
TABLE_BORDER = re.compile(r"^(?:[=-]+(?: +[=-]+)+|\+[-=+]+\+)$")  # "===  ===", "+----+---+": not shown
# What starts a line of its own on the page: a bullet, an enumerator, a field name, a line block's bar.
LINE_MARKER = re.compile(r"^(?:[-*+•]|\d+\.|#\.|\(?\d+\)|:[^:`]+:|\|)(?:\s+|$)")
# :role:`title <target>` -> title; :role:`~a.b` -> b; :ref:`label` / :doc:`path` -> the target's title,
# not in this file: dropped; :pep:`8` -> PEP 8; :abbr:`HTTP (Hypertext ...)` -> HTTP.
ROLE = re.compile(r":(?:[\w-]+:)?([\w-]+):`([^`]*)`")
HYPERLINK = re.compile(r"`([^`<]*?)\s*<[^`>]*>`__?")  # `text <url>`_
NAMED_REFERENCE = re.compile(r"`([^`]+)`__?|(?<![\w`])([A-Za-z0-9][\w.-]*?[A-Za-z0-9])__?(?![\w`])")  # `words`_, word_
SUBSTITUTION = re.compile(r"\|[\w -]+\|_?")
FOOTNOTE_REFERENCE = re.compile(r"\s*\[(?:#\w*|\*|\d+)\]_")


def role_text(match: re.Match) -> str:
    role, content = match.group(1), match.group(2)
    titled = re.match(r"(.*?)\s*<[^<>]*>$", content, re.DOTALL)
    if titled:
        return titled.group(1)
    if role in ("ref", "doc", "numref"):
        return ""
    if role in ("pep", "rfc"):
        return f"{role.upper()} {content}"
    if role in ("issue", "gh"):  # Python's changelog roles: "bpo-12345", "gh-92345"
        return f"{'bpo' if role == 'issue' else 'gh'}-{content}"
    if role == "abbr":
        return content.split(" (")[0]
    content = content.lstrip("!")
    if content.startswith("~"):
        return content[1:].rsplit(".", 1)[-1]
    return content


def inline_text(line: str) -> str:
    """A line of reST prose with inline markup replaced by the words Sphinx renders."""
    line = FOOTNOTE_REFERENCE.sub("", line)
    line = ROLE.sub(role_text, line)
    line = HYPERLINK.sub(r"\1", line)
    line = NAMED_REFERENCE.sub(lambda m: m.group(1) or m.group(2), line)
    line = SUBSTITUTION.sub("", line)
    return line.replace("\\ ", "").replace("\\", "")


def indent_of(line: str) -> int:
    return len(line) - len(line.lstrip())


def rest_reference(source: str) -> Reference:
    """The reference text of a reST page: prose and code lines (see the module docstring).

    The prose is written as the page shows it: a line per paragraph, list item, definition term and
    description, table row, signature and heading, and a blank line where a block ends.
    """
    lines = source.expandtabs(8).splitlines()
    prose: list[str] = []
    code: list[str] = []
    module = ""
    nested_in: list[int] = []  # indents of the class-like directives the current line is inside
    text_column = -1  # where the text of the last prose line starts, while the next may continue it
    in_table = False  # between a table's border and the blank line after it: every line is a row
    i = 0

    def block_end(start: int, indent: int) -> int:
        """The index after the block whose lines from `start` are indented more than `indent` (or blank)."""
        end = start
        while end < len(lines) and (not lines[end].strip() or indent_of(lines[end]) > indent):
            end += 1
        return end

    while i < len(lines):
        line = lines[i]
        indent = indent_of(line)
        continues_at, text_column = text_column, -1
        if not line.strip():  # a blank line ends a paragraph, an item, a table
            prose.append("")
            in_table = False
            i += 1
            continue
        while nested_in and line.strip() and indent <= nested_in[-1]:
            nested_in.pop()
        directive = DIRECTIVE.match(line)
        if directive:
            name, argument = directive.group(2), directive.group(3).strip()
            name = name.split(":")[-1]  # c:function -> function
            end = block_end(i + 1, indent)
            body_start = i + 1
            signatures = [argument]
            if name not in ADMONITIONS:  # an object's further signatures, one a line: each a line on the page
                while body_start < end and lines[body_start].strip() and not OPTION.match(lines[body_start]):
                    if signatures[-1].endswith("\\"):  # a signature continued on the next line
                        signatures[-1] = signatures[-1][:-1] + lines[body_start].strip()
                    else:
                        signatures.append(lines[body_start].strip())
                    body_start += 1
            while body_start < end and (OPTION.match(lines[body_start]) or not lines[body_start].strip()):
                if not lines[body_start].strip() and body_start + 1 < end and not OPTION.match(lines[body_start + 1]):
                    break
                body_start += 1
            if name in ("module", "currentmodule"):
                module = argument
            if name in HIDDEN_DIRECTIVES:
                i = end
                continue
            if name in CODE_DIRECTIVES:
                code.extend(line for line in lines[body_start:end] if line.strip())
                prose.append("")  # the text after a code block is a paragraph of its own on the page
                i = end
                continue
            label = DIRECTIVE_LABELS.get(name, "")
            if name in VERSION_NOTES:  # Sphinx writes "New in version 3.8." or "Changed in version 3.7: <its text>"
                version, _, text = argument.partition(" ")
                has_text = bool(text) or body_start < end
                prose.extend(["", f"{label} {version}{':' if has_text else '.'} {inline_text(text)}".rstrip()])
                text_column = indent_of(lines[body_start]) if body_start < end else -1  # its text goes on
                i = body_start
                continue
            for signature in signatures:
                if name in MODULE_PREFIXED and module and not nested_in and directive.group(2).count(":") == 0:
                    signature = f"{module}.{signature}"
                prose.extend(["", f"{label} {inline_text(signature)}".strip()])
            if name in ("class", "exception"):
                nested_in.append(indent)
            i = body_start
            continue
        footnote = FOOTNOTE.match(line)
        if footnote:
            prose.append(inline_text(footnote.group(2)))
            i += 1
            continue
        if EXPLICIT_MARKUP.match(line):  # comment, hyperlink target, substitution definition: not shown
            i = block_end(i + 1, indent)
            continue
        if ADORNMENT.match(line):
            i += 1
            continue
        if line.lstrip().startswith(">>>"):  # a doctest block runs to the next blank line
            while i < len(lines) and lines[i].strip():
                code.append(lines[i])
                i += 1
            prose.append("")
            continue
        stripped = line.strip()
        if TABLE_BORDER.match(stripped):
            in_table = True
            i += 1
            continue
        grid_row = stripped.startswith("|") and stripped.endswith("|")
        if grid_row:  # a grid table row: a row of the page runs on to the next border
            stripped = stripped.replace("|", " ").strip()
        shown = stripped
        if stripped.endswith("::"):  # "Text::" is shown as "Text:", "Text ::" as "Text", "::" not at all
            shown = stripped[:-2].rstrip() if stripped[:-2].endswith(" ") or stripped == "::" else stripped[:-1]
        marker = LINE_MARKER.match(stripped)
        wrapped = indent == continues_at and not marker and not in_table
        if prose and prose[-1] and (wrapped or grid_row and continues_at >= 0):
            prose[-1] = f"{prose[-1]} {inline_text(shown)}".rstrip()  # a source line wrap inside a paragraph or item
        else:
            prose.append(inline_text(shown))
        text_column = indent + (marker.end() if marker else 0)
        i += 1
        if stripped.endswith("::"):  # the indented block after it is code
            end = block_end(i, indent)
            code.extend(line for line in lines[i:end] if line.strip())
            prose.append("")
            i = end
    return Reference("\n".join(prose), code)


# ---------------------------------------------------------------------------
# Debian manuals: HTML pages against the plain-text edition

# Manuals whose Debian package ships them as HTML, a page a chapter, and as one plain-text file
# (DocBook's text output: wrapped at 70 columns, blocks apart by blank lines, link targets in
# parentheses, footnotes at the end): package -> (folder of the HTML pages, text edition) in the package.
DEBIAN_MANUALS = {
    "debian-faq": (Path("usr/share/doc/debian/FAQ"), Path("usr/share/doc/debian/FAQ/debian-faq.en.txt.gz")),
    "maint-guide": (Path("usr/share/doc/maint-guide/html"), Path("usr/share/doc/maint-guide/maint-guide.en.txt.gz")),
}
CHAPTER_TITLE = re.compile(r"^(?:Chapter\s\d+|Appendix\s[A-Z])\.\s.+$", re.MULTILINE)  # \s: a no-break space too
PAGE_TITLE = re.compile(r"<title>(.*?)</title>", re.DOTALL)
FOOTNOTE_START = re.compile(r"^\s*\^\[(\d+)\]")
FOOTNOTE_MARK = re.compile(r"\^\[(\d+)\]")
BLANK_LINES = re.compile(r"\n\s*\n")  # \s: lines of spaces or no-break spaces too
LINK_TARGET = re.compile(r"\s*\((?:https?|ftp|mailto):[^)]*\)")  # "the FAQ (https://...)": the page shows "the FAQ"
TEXT_LINE_MARKER = re.compile(r"^(?:[*o+-]|\d+(?:\.\d+)*\.)\s")  # a bullet, a numbered item or heading


def manual_pages(package: str) -> list[tuple[str, str, Reference]]:
    """(name, HTML, reference) for every chapter page of `package`'s manual found in its text edition."""
    html_folder, text_file = DEBIAN_MANUALS[package]
    chapters = text_chapters(gzip.decompress(unpacked(package, text_file).read_bytes()).decode("utf-8"))
    pages = []
    for page in sorted((UNPACK_DIR / html_folder).glob("*.en.html")):
        html = page.read_text(encoding="utf-8")
        title = PAGE_TITLE.search(html)
        chapter = chapters.get(" ".join(unescape(title.group(1)).split())) if title else None
        if chapter:
            pages.append((f"{package}/{page.name}", html, text_reference(chapter, code_lines_of(html))))
    return pages


def text_chapters(text: str) -> dict[str, str]:
    """Chapter title -> its text, with the footnotes it refers to (the text edition has them all at its end)."""
    starts = list(CHAPTER_TITLE.finditer(text))
    chapters = {
        " ".join(start.group(0).split()): text[start.start() : end.start() if end else len(text)]
        for start, end in zip(starts, [*starts[1:], None])
    }
    last = list(chapters)[-1]
    blocks = BLANK_LINES.split(chapters[last])
    notes = {match.group(1): block for block in blocks if (match := FOOTNOTE_START.match(block))}
    chapters[last] = "\n\n".join(block for block in blocks if not FOOTNOTE_START.match(block))
    return {
        title: chapter + "".join(f"\n\n{notes[n]}" for n in FOOTNOTE_MARK.findall(chapter) if n in notes)
        for title, chapter in chapters.items()
    }


def code_lines_of(html: str) -> set[str]:
    """The lines of the page's <pre> blocks, whitespace collapsed: the text edition's code is where they are."""
    tree = trafilatura.load_html(html)
    return {" ".join(line.split()) for pre in tree.iter("pre") for line in "".join(pre.itertext()).splitlines()}


def text_reference(chapter: str, code_lines: set[str]) -> Reference:
    """The reference of a chapter of a text edition: its blocks whose lines are mostly the page's <pre> lines
    are code; the others are prose, a line per block, bullet or numbered item, source wraps joined."""
    prose: list[str] = []
    code: list[str] = []
    for block in BLANK_LINES.split(chapter):
        lines = [" ".join(line.split()) for line in block.splitlines() if line.strip()]
        if not lines:
            continue
        prose.append("")
        if sum(line in code_lines for line in lines) * 2 >= len(lines):
            code.extend(lines)
            continue
        prose.append(lines[0])
        for line in lines[1:]:
            if TEXT_LINE_MARKER.match(line):
                prose.append(line)
            else:
                prose[-1] += " " + line
    return Reference("\n".join(LINK_TARGET.sub("", line) for line in prose).strip("\n"), code)


# ---------------------------------------------------------------------------
# Scores

WORD = re.compile(r"\w+")
TERMINAL = re.compile(r"[.!?:;…][\"'”’»)\]]*$")


def words(text: str) -> list[str]:
    return WORD.findall(unicodedata.normalize("NFKC", text).casefold())


@dataclass
class Score:
    reference_words: int = 0
    output_words: int = 0
    matched_words: int = 0
    breaks: int = 0
    mid_sentence_breaks: int = 0
    paragraph_breaks: int = 0  # breaks at a blank line, between two blocks
    mid_sentence_paragraph_breaks: int = 0
    cuts: int = 0
    glued_words: int = 0
    pages: int = 0
    empty_pages: int = 0

    def add(self, output: str, reference: Reference, with_code: bool) -> None:
        reference_text = reference.prose + ("\n" + "\n".join(reference.code) if with_code else "")
        expected, got = Counter(words(reference_text)), Counter(words(output))
        self.pages += 1
        self.empty_pages += not output.strip()
        self.reference_words += sum(expected.values())
        self.output_words += sum(got.values())
        self.matched_words += sum((expected & got).values())
        # glued: the vocabulary of the whole reference, so that code words are not mistaken for glue
        vocabulary = set(words(reference.prose + "\n" + "\n".join(reference.code)))
        self.glued_words += sum(n for word, n in got.items() if word not in vocabulary and is_glued(word, vocabulary))
        # A fence line belongs to its code block: breaks next to it are left out as those next to code.
        code_lines = {line.strip() for line in reference.code}
        paragraph_runs = {run for paragraph in reference.prose.split("\n\n") for run in word_runs(words(paragraph))}
        lines = lines_after_blank(output)
        for (before, _), (after, paragraph_break) in zip(lines, lines[1:]):
            if before in code_lines or after in code_lines or is_fence(before) or is_fence(after):
                continue
            self.breaks += 1
            self.paragraph_breaks += paragraph_break
            if not TERMINAL.search(before) and after[0].islower():
                self.mid_sentence_breaks += 1
                self.mid_sentence_paragraph_breaks += paragraph_break
                table_rows = "|" in before and "|" in after
                self.cuts += not table_rows and tuple(words(before)[-2:] + words(after)[:2]) in paragraph_runs

    def row(self) -> str:
        recall = self.matched_words / self.reference_words
        precision = self.matched_words / max(self.output_words, 1)
        breaks = max(self.breaks, 1)
        mid_sentence = f"{self.mid_sentence_breaks / breaks:.2%} ({self.mid_sentence_breaks}/{self.breaks})"
        paragraphs = max(self.paragraph_breaks, 1)
        mid_paragraph = self.mid_sentence_paragraph_breaks
        of_paragraphs = f"{mid_paragraph / paragraphs:.2%} ({mid_paragraph}/{self.paragraph_breaks})"
        of_breaks = f"{mid_paragraph / breaks:.2%}"
        cuts = f"{self.cuts / breaks:.2%} ({self.cuts})"
        glued = f"{self.glued_words / max(self.output_words, 1):.3%} ({self.glued_words})"
        return (
            f"{recall:>8.3f}{precision:>10.3f}{mid_sentence:>24}{of_paragraphs:>24}{of_breaks:>14}{cuts:>16}{glued:>15}"
            f"{self.empty_pages:>7}"
        )


def lines_after_blank(text: str) -> list[tuple[str, bool]]:
    """The non-empty lines of `text`, stripped, each with whether a blank line (a paragraph break) is before it."""
    lines: list[tuple[str, bool]] = []
    blank_before = False
    for line in text.splitlines():
        if line.strip():
            lines.append((line.strip(), blank_before))
        blank_before = not line.strip()
    return lines


def word_runs(sequence: list[str], length: int = 4) -> set[tuple[str, ...]]:
    return {tuple(sequence[i : i + length]) for i in range(len(sequence) - length + 1)}


def is_glued(word: str, vocabulary: set[str]) -> bool:
    """Whether `word` is two words of `vocabulary` written together."""
    return any(word[:cut] in vocabulary and word[cut:] in vocabulary for cut in range(1, len(word)))


def filter_outcome(texts: list[str], references: list[Reference]) -> tuple[int, Counter, float]:
    """Pages kept by the default web filter steps, the drop reasons, and the prose recall of the kept text
    (of its prose where its code is marked)."""
    config = FiltersConfig()
    built = Steps(config)
    steps = [built.step(spec) for spec in config.web]
    kept, reasons = 0, Counter()
    matched = total = 0
    for text, reference in zip(texts, references):
        prose = Counter(words(reference.prose))
        total += sum(prose.values())
        result = filter_document({"text": normalize_whitespace(fix_text(text))}, steps)  # type: ignore[typeddict-item]
        if result.row is None:
            reasons[result.reason] += 1
            continue
        kept += 1
        marked = split_marked_code(result.row["text"])  # code words are not prose found
        matched += sum((prose & Counter(words(marked.prose if marked else result.row["text"]))).values())
    return kept, reasons, matched / total


def score_extractors(pages: list[tuple[str, str, Reference]], speeds: dict[str, float], samples: Path | None):
    """Print table (a) for `pages` ((name, HTML, reference)): the reference's own lines scored as an output
    would be, then each extractor; return each extractor's texts."""
    header = f"{'mid-sentence breaks':>24}{'of paragraph breaks':>24}{'of all breaks':>14}{'cuts':>16}"
    header += f"{'glued words':>15}{'empty':>7}"
    print(f"{'extractor':<30}{'recall':>8}{'precision':>10}{header}{'MB/s' if speeds else '':>7}")
    itself = Score()
    for _, _, reference in pages:
        itself.add(reference.prose, reference, with_code=False)
    print(f"{'the reference itself':<30}{itself.row()}")
    texts = {}
    for name, (extract, with_code) in EXTRACTORS.items():
        score = Score()
        outputs = texts[name] = [extract(html, None) for _, html, _ in pages]
        for output, (page, _, reference) in zip(outputs, pages):
            score.add(output, reference, with_code)
            if samples:
                target = samples / re.sub(r"\W+", "_", name).strip("_") / Path(page).with_suffix(".txt")
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(output, encoding="utf-8")
        print(f"{name:<30}{score.row()}{f'{speeds[name]:>7.2f}' if speeds else ''}")
    return texts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=Path, help="python3.11-doc's html/ folder (default: download and unpack)")
    parser.add_argument("--corpora", type=Path, default=default_corpora())
    parser.add_argument("--runs", type=int, default=3, help="timed passes over the pages; the median is shown")
    parser.add_argument("--every", type=int, default=1, help="use every n-th page only, for a quick look")
    parser.add_argument("--samples", type=Path, help="write each extractor's text of every page here, to read")
    parser.add_argument(
        "--sections", default="abc", help="which sections to run, e.g. 'bc' (b extracts the pages without scoring them)"
    )
    args = parser.parse_args()

    html_root = args.docs or unpacked(PACKAGE, HTML_IN_PACKAGE)
    pages = [
        (str(page.relative_to(html_root)), page.read_text(encoding="utf-8"), rest_reference(source.read_text("utf-8")))
        for page, source in page_pairs(html_root)[:: args.every]
    ]
    if "a" in args.sections:
        texts = print_section_a(pages, args.runs, args.every, args.samples)
    elif "b" in args.sections:
        texts = {name: [extract(html, None) for _, html, _ in pages] for name, (extract, _) in EXTRACTORS.items()}

    if "b" in args.sections:
        print(f"\n(b) the same texts through the default web filter steps ({', '.join(FiltersConfig().web)})")
        print(f"{'extractor':<30}{'pages kept':>11}{'prose recall':>13}  dropped by")
        references = [reference for _, _, reference in pages]
        for name, outputs in texts.items():
            kept, reasons, recall = filter_outcome(outputs, references)
            print(f"{name:<30}{kept:>11}{recall:>13.3f}  {dict(reasons.most_common())}")

    if "c" in args.sections:
        gold_root = args.corpora / "web" / "html" / "adbar__trafilatura" / "tests"
        found, quality = bench_extract_quality(gold_root, {name: extract for name, (extract, _) in EXTRACTORS.items()})
        print(f"\n(c) trafilatura's gold snippets, the {found} evaldata.json pages present in the corpora")
        print_quality(quality, name_width=30)


def print_section_a(
    pages: list[tuple[str, str, Reference]], runs: int, every: int, samples: Path | None
) -> dict[str, list[str]]:
    """Section (a): each extractor's speed and scores on the Python manual's `pages` and on the Debian
    manuals; returns each extractor's texts of `pages`."""
    manuals = [page for package in DEBIAN_MANUALS for page in manual_pages(package)][::every]
    timed_pages = [html for _, html, _ in pages[::4]]
    timed_megabytes = sum(len(html.encode("utf-8")) for html in timed_pages) / 1e6
    seconds: dict[str, list[float]] = {name: [] for name in EXTRACTORS}
    for _ in range(runs):  # extractors take turns in each run, so a change in the machine's load hits all
        for name, (extract, _) in EXTRACTORS.items():
            started = time.process_time()  # CPU time: on a shared machine, wall time measured the neighbours
            for html in timed_pages:
                extract(html, None)
            seconds[name].append(time.process_time() - started)
    speeds = {name: timed_megabytes / statistics.median(times) for name, times in seconds.items()}

    megabytes = sum(len(html.encode("utf-8")) for _, html, _ in pages) / 1e6
    print(f"(a) {len(pages)} pages of {PACKAGE} ({megabytes:.1f} MB of HTML) against their reST sources")
    texts = score_extractors(pages, speeds, samples)
    megabytes = sum(len(html.encode("utf-8")) for _, html, _ in manuals) / 1e6
    print(f"\n{len(manuals)} chapter pages of {' and '.join(DEBIAN_MANUALS)} ({megabytes:.1f} MB of HTML)", end="")
    print(" against their plain-text editions")
    score_extractors(manuals, {}, samples)
    return texts


if __name__ == "__main__":
    main()
