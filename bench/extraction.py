"""HTML main-text extraction against complete references: Python's HTML manual and its reST sources.

Run from the repository root:

    .venv/bin/python bench/extraction.py [--docs DIR] [--corpora ../shared/corpora] [--runs 3]

Debian's python3.11-doc ships every page of the Python manual as HTML together with the reST file it
was built from (_sources/<page>.rst.txt). Without --docs, the bench downloads that package with
`apt-get download` and unpacks it with `dpkg-deb -x` under /tmp/textshards-extraction (once; later
runs reuse it). --docs names the unpacked html/ folder instead.

For each page with a source, the reST is turned into reference text (`rest_reference`): prose with
markup removed and what Sphinx renders in its place, and the code lines (literal blocks, doctests,
code-block and doctest directives) apart. The extractors: "before", the project's extractor until
2026-12-06 (trafilatura's plain text, one paragraph per line), and
transforms.html_text.extract_main_text with code blocks kept, kept between ``` fences, and dropped.

(a) Each extractor's scores, pooled over pages, against the whole reference (against the prose
alone where code is dropped):

* word recall and precision: bag of words (NFKC, casefolded, \\w+ runs) of the output against the
  reference, min(count in output, count in reference) summed, over the reference's and output's words;
* mid-sentence breaks: of the breaks between two non-empty output lines, those after a line without
  terminal punctuation and before a line that starts lower-case; breaks next to a line of the
  reference's code are left out of both counts. Many such breaks are structure, not cuts: a heading
  before "asyncio is a library...", a C signature "int PyList_Check(...)" after its section title.
  So "cuts" also counts those of them where the two words before the break and the two after it
  follow each other in one paragraph of the reference, the lines not being table rows: a sentence
  the extractor cut;
* glued words: output words that are not reference words but are two reference words joined;
* speed: MB/s of HTML per CPU second of this process (wall time on a shared machine measures the
  other jobs), median of --runs passes over every fourth page (a pass over all takes minutes).

(b) What the filters then do with each code-block setting: every page's text, cleaned as prepare
cleans it (ftfy, whitespace), through the default web filter steps; pages kept, why the others were
dropped, and the prose recall of what is kept (words of the reference's prose found in the kept
text, over all the prose words of all pages).

(c) trafilatura's gold snippets on the corpora, scored as bench/web_readers.py does, for the same
extractors. Write-up: docs/extraction.md.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
import unicodedata
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import trafilatura

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from bench.measure import default_corpora, unpacked_debian_package
from bench.web_readers import bench_extract_quality, print_quality
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


def python_docs_html(docs: Path | None) -> Path:
    """The html/ folder of python3.11-doc: `docs`, or the package unpacked under UNPACK_DIR."""
    if docs is not None:
        return docs
    return unpacked_debian_package(PACKAGE, UNPACK_DIR) / HTML_IN_PACKAGE


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
    """The reference text of a reST page: prose and code lines (see the module docstring)."""
    lines = source.expandtabs(8).splitlines()
    prose: list[str] = []
    code: list[str] = []
    module = ""
    nested_in: list[int] = []  # indents of the class-like directives the current line is inside
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
        if stripped.endswith("::"):
            # "Text::" is shown as "Text:", a lone "::" not at all; the indented block after is code.
            prose.append(inline_text(stripped[:-2]))
            end = block_end(i + 1, indent)
            code.extend(line for line in lines[i + 1 : end] if line.strip())
            prose.append("")
            i = end
            continue
        if stripped.startswith(("+", "|")) and stripped.endswith(("+", "|")):  # a grid table row
            stripped = stripped.replace("|", " ")
        prose.append(inline_text(stripped))
        i += 1
    return Reference("\n".join(prose), code)


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
        code_lines = {line.strip() for line in reference.code}
        paragraph_runs = {run for paragraph in reference.prose.split("\n\n") for run in word_runs(words(paragraph))}
        lines = [line.strip() for line in output.splitlines() if line.strip()]
        for before, after in zip(lines, lines[1:]):
            if before in code_lines or after in code_lines:
                continue
            self.breaks += 1
            if not TERMINAL.search(before) and after[0].islower():
                self.mid_sentence_breaks += 1
                table_rows = "|" in before and "|" in after
                self.cuts += not table_rows and tuple(words(before)[-2:] + words(after)[:2]) in paragraph_runs

    def row(self) -> str:
        recall = self.matched_words / self.reference_words
        precision = self.matched_words / max(self.output_words, 1)
        breaks = max(self.breaks, 1)
        mid_sentence = f"{self.mid_sentence_breaks / breaks:.2%} ({self.mid_sentence_breaks}/{self.breaks})"
        cuts = f"{self.cuts / breaks:.2%} ({self.cuts})"
        glued = f"{self.glued_words / max(self.output_words, 1):.3%} ({self.glued_words})"
        return f"{recall:>8.3f}{precision:>10.3f}{mid_sentence:>26}{cuts:>14}{glued:>15}{self.empty_pages:>7}"


def word_runs(sequence: list[str], length: int = 4) -> set[tuple[str, ...]]:
    return {tuple(sequence[i : i + length]) for i in range(len(sequence) - length + 1)}


def is_glued(word: str, vocabulary: set[str]) -> bool:
    """Whether `word` is two words of `vocabulary` written together."""
    return any(word[:cut] in vocabulary and word[cut:] in vocabulary for cut in range(1, len(word)))


def filter_outcome(texts: list[str], references: list[Reference]) -> tuple[int, Counter, float]:
    """Pages kept by the default web filter steps, the drop reasons, and the prose recall of the kept text."""
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
        matched += sum((prose & Counter(words(result.row["text"]))).values())
    return kept, reasons, matched / total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=Path, help="python3.11-doc's html/ folder (default: download and unpack)")
    parser.add_argument("--corpora", type=Path, default=default_corpora())
    parser.add_argument("--runs", type=int, default=3, help="timed passes over the pages; the median is shown")
    parser.add_argument("--every", type=int, default=1, help="use every n-th page only, for a quick look")
    parser.add_argument("--samples", type=Path, help="write each extractor's text of every page here, to read")
    args = parser.parse_args()

    html_root = python_docs_html(args.docs)
    pairs = page_pairs(html_root)[:: args.every]
    pages = [
        (page.read_text(encoding="utf-8"), rest_reference(source.read_text(encoding="utf-8"))) for page, source in pairs
    ]
    megabytes = sum(len(html.encode("utf-8")) for html, _ in pages) / 1e6
    print(f"(a) {len(pages)} pages of {PACKAGE} ({megabytes:.1f} MB of HTML) against their reST sources")
    timed_pages = [html for html, _ in pages[::4]]
    timed_megabytes = sum(len(html.encode("utf-8")) for html in timed_pages) / 1e6
    seconds: dict[str, list[float]] = {name: [] for name in EXTRACTORS}
    for _ in range(args.runs):  # extractors take turns in each run, so a change in the machine's load hits all
        for name, (extract, _) in EXTRACTORS.items():
            started = time.process_time()  # CPU time: on a shared machine, wall time measured the neighbours
            for html in timed_pages:
                extract(html, None)
            seconds[name].append(time.process_time() - started)
    print(f"{'extractor':<30}{'recall':>8}{'precision':>10}{'mid-sentence breaks':>26}{'cuts':>14}", end="")
    print(f"{'glued words':>15}{'empty':>7}{'MB/s':>7}")
    texts = {}
    for name, (extract, with_code) in EXTRACTORS.items():
        score = Score()
        outputs = texts[name] = [extract(html, None) for html, _ in pages]
        for output, (_, reference) in zip(outputs, pages):
            score.add(output, reference, with_code)
        if args.samples:
            folder = args.samples / re.sub(r"\W+", "_", name).strip("_")
            for (page, _), output in zip(pairs, outputs):
                target = folder / page.relative_to(html_root).with_suffix(".txt")
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(output, encoding="utf-8")
        print(f"{name:<30}{score.row()}{timed_megabytes / statistics.median(seconds[name]):>7.2f}")

    print(f"\n(b) the same texts through the default web filter steps ({', '.join(FiltersConfig().web)})")
    print(f"{'extractor':<30}{'pages kept':>11}{'prose recall':>13}  dropped by")
    references = [reference for _, reference in pages]
    for name, outputs in texts.items():
        kept, reasons, recall = filter_outcome(outputs, references)
        print(f"{name:<30}{kept:>11}{recall:>13.3f}  {dict(reasons.most_common())}")

    gold_root = args.corpora / "web" / "html" / "adbar__trafilatura" / "tests"
    found, quality = bench_extract_quality(gold_root, {name: extract for name, (extract, _) in EXTRACTORS.items()})
    print(f"\n(c) trafilatura's gold snippets, the {found} evaldata.json pages present in the corpora")
    print_quality(quality, name_width=30)


if __name__ == "__main__":
    main()
