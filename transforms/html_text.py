"""Main text of an HTML page, without navigation, scripts, styles, cookie banners or comments,
with the page's structure kept: one paragraph per block, whole sentences, no glued words.

trafilatura finds the main content: on trafilatura's gold snippets for the 142 pages in our
corpora it keeps the main text as well as resiliparse (recall 0.92 vs 0.91) but lets far
less boilerplate through (precision 0.89 vs 0.70). Numbers and command: docs/web-readers.md.

Its plain-text output is not used: it keeps the source's line wraps inside a paragraph or
list item, so a wrapped <p> became one "paragraph" per source line, cut mid-sentence. Instead
`text_of_tree` writes the text of trafilatura's structured tree (`<head>`, `<p>`, `<list>`,
`<item>`, `<table>`, `<row>`, `<cell>`, `<quote>`, `<code>`, `<lb>`, inline `<hi>`/`<ref>`...)
the way a browser lays it out:

* inside a block, runs of ASCII whitespace (source line wraps and indentation) are one space,
  and inline elements add nothing and remove nothing: "<em>em</em>phasis" is "emphasis",
  "a <a>link</a> here" is "a link here";
* headings, paragraphs, quotes, lists, tables and code blocks are paragraphs separated by a
  blank line; list items ("- " before each, as trafilatura's text output writes them),
  definition terms and descriptions, table rows and <br> are lines; the cells of a row are
  joined by " | ", an empty cell holding its column's place ("| decode" under "Text data | Binary
  data") unless nothing follows it in the row or its column is empty in every row; a row whose
  cells hold paragraphs of their own in a table without header cells (one used for page layout)
  is written as those paragraphs, and the other rows of such a table leave their empty cells out;
* code blocks keep their lines and indentation; `code_blocks` says whether they are kept,
  dropped or kept between ``` fences (CODE_BLOCKS below, the evaluation in docs/extraction.md).

Before trafilatura sees the page, it is prepared so that trafilatura's choices do not lose its
structure: every <pre> is one code block, every other <code> plain text, a quotation holding a
table a <div>, a link target without text is removed, and a page without a content container that
trafilatura knows gets one marked.
"""

from __future__ import annotations

import logging
import re
import unicodedata

from lxml import etree

from transforms.filters.code_blocks import fenced

# trafilatura logs a warning for every page it finds no text in; that is a normal outcome
# here (the caller counts empty results), not something to print per document.
logging.getLogger("trafilatura").setLevel(logging.ERROR)

# Sphinx and MkDocs put a permalink after every heading and API signature: <a class="headerlink"
# href="#..." title="Permalink to this headline">¶</a>. trafilatura keeps its text, which left a
# "¶" at the end of 499 lines of the 51 Python-docs pages of the demo corpus.
PERMALINK = re.compile(r'<a\b[^>]*\bclass="(?:[^"]*\s)?headerlink(?:\s[^"]*)?"[^>]*>[^<]*</a>', re.IGNORECASE)

# What happens to a code block (<pre>, highlighted code): "keep" its lines as they are, "drop" it,
# or "mark" it: keep it between ``` fence lines, so that later steps can tell code from prose.
CODE_BLOCKS = ("keep", "drop", "mark")

# Blocks of trafilatura's tree that are a paragraph of their own; a <code> is one only where
# it is not a run of code inside a sentence (is_code_block).
PARAGRAPH_TAGS = frozenset({"head", "p", "quote", "list", "table"})
# Blocks that are a line of their own within a paragraph: a list item, a term or description, a row.
LINE_TAGS = frozenset({"item", "row"})
BROWSER_WHITESPACE = re.compile(r"[ \t\n\r\f]+")
SOFT_HYPHEN = "\u00ad"  # a hyphenation hint, shown only where a browser breaks the word
# The <div>, <section>, <article> and <main> elements with none of them around them.
OUTERMOST_BLOCKS = etree.XPath(
    "descendant::*[self::div or self::section or self::article or self::main]"
    "[not(ancestor::div or ancestor::section or ancestor::article or ancestor::main)]"
)
VISIBLE_TEXT = etree.XPath(".//text()[not(ancestor::script or ancestor::style)]")


def extract_main_text(
    html: str, url: str | None = None, code_blocks: str = "mark", boilerplate_classes: frozenset[str] = frozenset()
) -> str:
    """The main text of `html` (an already decoded page) as paragraphs separated by blank lines.

    `url` helps trafilatura recognise site-specific layouts; it is optional. `code_blocks` is one
    of CODE_BLOCKS. Elements with one of `boilerplate_classes` among their classes are removed
    first. Returns "" when the page is empty, unparsable or has no main text. Never raises.
    """
    if not html.strip():
        return ""
    # Imported here, not at the top: every prepare worker imports this module (transforms.clean)
    # and most corpora hold no HTML; trafilatura and courlan cost each worker about 0.1 s.
    import trafilatura

    try:
        tree = trafilatura.load_html(PERMALINK.sub("", html))
        if tree is None:
            return ""
        drop_elements_of_class(tree, boilerplate_classes)
        pre_as_plain_code(tree)
        inline_code_as_plain_text(tree)
        tables_out_of_quotes(tree)
        drop_link_targets(tree)
        mark_content_container(tree)
        extracted = trafilatura.bare_extraction(
            tree,
            url=url,
            include_comments=False,
            include_tables=True,
            # include_formatting=True would keep <hi> for bold and italics, which this text has no use
            # for, and it changes which blocks trafilatura takes: gold-snippet F1 0.902 against 0.906
            # (docs/extraction.md).
            include_formatting=False,
        )
    except Exception:  # a third-party parser meeting arbitrary web bytes: no text, no crash
        return ""
    body = getattr(extracted, "body", None)  # a trafilatura Document, or None where it found no main text
    if body is None:
        return ""
    return text_of_tree(body, code_blocks)


def drop_elements_of_class(tree: etree._Element, classes: frozenset[str]) -> None:
    """Remove every element of the page `tree` that has one of `classes` among its classes, in place."""
    for name in classes:
        # contains() finds the candidates in C: a third of the time of reading every class here
        for element in tree.xpath(f"//*[contains(@class, '{name}')]"):
            if name in element.get("class", "").split() and element.getparent() is not None:
                element.drop_tree()  # keeps its tail, the text after it


def pre_as_plain_code(tree: etree._Element) -> None:
    """Make every <pre> of the page `tree` hold its text in one <code>, in place.

    trafilatura keeps such a <pre> as a code block with its lines everywhere; a <pre> of highlighted
    spans (Sphinx, Pygments) it may take for a quotation instead, and inside a list item it then
    joins the lines: on 40 pages of the Python manual, 192 of 491 <pre> became quotations.
    """
    for pre in list(tree.iter("pre")):
        for br in pre.iter("br"):
            br.tail = "\n" + (br.tail or "")
        text, tail = "".join(pre.itertext()), pre.tail
        pre.clear()
        pre.tail = tail
        etree.SubElement(pre, "code").text = text


def inline_code_as_plain_text(tree: etree._Element) -> None:
    """Make every <code> of the page `tree` outside a <pre> plain text in its sentence, in place.

    A code block is a <pre> (pre_as_plain_code); a <code> elsewhere is a run of code inside a sentence
    or a link. trafilatura's recovery of pages whose main text it did not find takes every <code> for
    a block of its own: the toctree of Sphinx's chapter pages, a list of links it deletes as
    navigation, came back as one "paragraph" per <code> in a link, the link's other words lost
    ("email" for "email — An email and MIME handling package"). And it moves the text of an element
    nested in a <code> to the next <code>: DocBook's `<code>linux-source-<em><code>version</code></em>
    </code> ... (where <em><code>version</code></em> stands for` came out as "linux-source- ...
    (where versionversion stands for".
    """
    for code in list(tree.iter("code")):
        parent = code.getparent()
        if parent is not None and parent.tag != "pre":
            code.drop_tag()


def tables_out_of_quotes(tree: etree._Element) -> None:
    """Make every <blockquote> of the page `tree` that holds a <table> a <div>, in place.

    trafilatura writes every element inside a quotation as a paragraph of its own, so a table in one
    lost its rows: each cell a paragraph. reST indents a table by putting it in a <blockquote>, which
    a browser shows as an indented table: unittest's deprecated aliases ("assertEqual()",
    "failUnlessEqual", "assertEquals" were three paragraphs), tkinter.ttk's option tables. Outside
    the quotation trafilatura keeps the table's rows and cells. A quotation's text is written as
    paragraphs either way (text_of_tree). What the table loses there it loses in every table: a list
    in a cell, which trafilatura drops (tkinter.ttk's "compound: Valid values are:" and its values).
    """
    for quote in list(tree.iter("blockquote")):
        if quote.find(".//table") is not None:
            quote.tag = "div"


def drop_link_targets(tree: etree._Element) -> None:
    """Remove every <a> of the page `tree` that is only a link target (no href, no content), in place.

    trafilatura counts it as a link, and a short block whose links all have no text it deletes as
    boilerplate: DocBook starts every heading with one (`<h2><a id="dists"></a>6.1. How many...`), and
    a page's last short section lost its heading and its paragraph.
    """
    for anchor in list(tree.iter("a")):
        if anchor.get("href") is None and not len(anchor) and not (anchor.text or "").strip():
            anchor.drop_tag()


def mark_content_container(tree: etree._Element) -> None:
    """Where none of trafilatura's content expressions finds the page's content, mark the innermost
    <div> or <section> that holds every paragraph of the page, and most of its text, as one of them
    finds a container: role="main". In place.

    Without a content container trafilatura falls back to its "wild text" recovery, which collects
    paragraphs, code, quotes and tables, no headings, and list items only as paragraphs. DocBook's
    chunked HTML (the Debian manuals) has no container it knows: every section heading was lost (5%
    of the words) and every list item became a paragraph without its "- ". Its main pass over the
    container keeps both, and still prunes what it takes for boilerplate inside it.
    """
    from trafilatura.xpaths import BODY_XPATH

    if any(expression(tree) for expression in BODY_XPATH):
        return
    paragraphs = [p for p in tree.iter("p") if "".join(p.itertext()).strip()]
    if not paragraphs:
        return
    holding_all = set(paragraphs[0].iterancestors())
    for paragraph in paragraphs[1:]:
        holding_all.intersection_update(paragraph.iterancestors())
    # the paragraphs' innermost common <div> or <section>, if they have one
    container = next(
        (a for a in paragraphs[0].iterancestors() if a in holding_all and a.tag in ("div", "section")), None
    )
    if container is None:
        container = body_as_container(tree, paragraphs)
    if container is not None and text_length(container) * 2 > text_length(tree):
        container.set("role", "main")


def body_as_container(tree: etree._Element, paragraphs: list[etree._Element]) -> etree._Element | None:
    """A new <div> around everything in the <body> of the page `tree`, where paragraphs hold most of
    the page's text and no one block (<div>, <section>, <article>, <main>) does; else None.

    Books are written so: Project Gutenberg's HTML editions put their paragraphs straight in the
    <body>, or each chapter in a <div> of its own, and trafilatura's recovery lost all their titles
    and chapter headings. A page whose text is mostly in one block (its content, beside navigation
    and a footer) is not taken whole: that block holds it."""
    body = tree.find("body")
    if body is None:
        return None
    page = text_length(tree)
    if sum(text_length(p) for p in paragraphs) * 2 <= page:
        return None
    # An inner block holds no more text than the one around it: the outermost ones are enough, and
    # as they do not overlap, their text is walked once however deep the blocks nest.
    if any(text_length(block) * 2 > page for block in OUTERMOST_BLOCKS(body)):
        return None
    container = etree.Element("div")
    container.text, body.text = body.text, None
    container.extend(list(body))  # each child moves with its tail
    body.append(container)
    return container


def text_length(element: etree._Element) -> int:
    """How many characters of text `element` shows: scripts and styles left out, whitespace too."""
    return sum(len("".join(text.split())) for text in VISIBLE_TEXT(element))


def text_of_tree(body: etree._Element, code_blocks: str = "mark") -> str:
    """The text of trafilatura's extracted tree `body`, laid out as the module docstring says."""
    if code_blocks not in CODE_BLOCKS:
        raise ValueError(f"code_blocks must be one of {CODE_BLOCKS}, not {code_blocks!r}")
    layout = _Layout(code_blocks)
    layout.write_children(body)
    layout.end_line()
    # NFC as trafilatura's text output has it: some pages write "ü" as "u" and a combining diaeresis
    return unicodedata.normalize("NFC", "".join(layout.parts).strip("\n"))


class _Layout:
    """Writes a tree's text into `parts`: inline text gathers in `line` until a block ends it."""

    def __init__(self, code_blocks: str):
        self.code_blocks = code_blocks
        self.parts: list[str] = []
        self.line: list[str] = []
        self.pending_break = ""  # "\n" or "\n\n", written before the next non-empty line
        self.bullet = ""  # "- " before the next line, the first of a list item
        self.cell_depth = 0  # inside a table cell, blocks are joined by a space: a row stays one line
        self.table_places: dict[etree._Element, set[int] | None] = {}  # places_of_cells of each table met

    def write_children(self, element: etree._Element) -> None:
        self.line.append(element.text or "")
        for child in element:
            self.write_element(child)
            self.line.append(child.tail or "")

    def write_element(self, element: etree._Element) -> None:
        tag = element.tag
        if tag == "lb":
            self.end_line("\n")
        elif tag == "code" and not self.cell_depth and is_code_block(element):  # in a cell, code is inline
            separator = block_separator(element)
            self.end_line(separator)
            self.write_code_block(element, separator)
        elif tag == "row":
            self.write_row(element)
        elif tag in PARAGRAPH_TAGS or tag in LINE_TAGS:
            separator = block_separator(element)
            self.end_line(separator)
            if tag == "item" and not element.get("rend", "").startswith(("dt", "dd")):
                self.bullet = "- "
            self.write_children(element)
            self.end_line(separator)
            self.bullet = ""  # an item without text (its code dropped, say) leaves no bullet for the next line
        elif tag == "graphic":
            pass
        else:  # inline: hi, ref, del, code within a sentence, and any tag trafilatura may add
            self.write_children(element)

    def write_row(self, row: etree._Element) -> None:
        table = row.getparent()
        if table not in self.table_places:
            self.table_places[table] = places_of_cells(table)
        places = self.table_places[table]
        if places is None and any(holds_paragraphs(cell) for cell in row.iterchildren("cell")):
            # a table used for layout: a row line would run its cells' paragraphs together
            for cell in row.iterchildren("cell"):
                separator = block_separator(cell)
                self.end_line(separator)
                self.write_children(cell)
                self.end_line(separator)
            return
        # a data table's row, or a layout table's row without paragraphs: one line
        self.end_line("\n")
        self.cell_depth += 1
        for position, cell in enumerate(cells_in_place(row, places)):
            self.line.append(" | " if position else "")
            self.write_children(cell)
        self.cell_depth -= 1
        self.end_line("\n")

    def end_line(self, separator: str = "\n") -> None:
        """Write the gathered inline text as one line; the next line comes after `separator` at least."""
        if self.cell_depth:
            self.line.append(" ")
            return
        text = BROWSER_WHITESPACE.sub(" ", "".join(self.line)).replace(SOFT_HYPHEN, "").strip()
        self.line = []
        if text:
            self.write_line(self.bullet + text)
            self.bullet = ""
        if len(separator) > len(self.pending_break):
            self.pending_break = separator

    def write_line(self, text: str) -> None:
        if self.parts:
            self.parts.append(self.pending_break or "\n")
        self.parts.append(text)
        self.pending_break = ""

    def write_code_block(self, element: etree._Element, separator: str) -> None:
        if self.code_blocks == "drop":
            return
        code = "\n".join(line.rstrip() for line in code_text(element).splitlines()).strip("\n")
        if not code.strip():
            return
        self.write_line(fenced(code) if self.code_blocks == "mark" else code)
        self.bullet = ""
        self.pending_break = separator


def block_separator(element: etree._Element) -> str:
    """What sets a block apart: a blank line for a paragraph, a line break for a list item or row, for
    anything inside a list item, whose paragraphs, nested lists and code stay together as lines, and
    for a definition list in a run of terms over one description (in_a_run_of_terms)."""
    if element.tag in LINE_TAGS or any(ancestor.tag == "item" for ancestor in element.iterancestors()):
        return "\n"
    return "\n" if in_a_run_of_terms(element) else "\n\n"


def in_a_run_of_terms(element: etree._Element) -> bool:
    """Whether `element` is a list of terms without a description, or the list after one: a term whose
    description is the next one's. Sphinx writes each of several signatures over one description as a
    <dl> of its own with an empty <dd> (`socket.setsockopt(level, optname, value: int)`, then
    `...value: buffer)`, then the one with the description); they were a paragraph each.
    """

    def terms_only(list_element: etree._Element | None) -> bool:
        return (
            list_element is not None
            and list_element.tag == "list"
            and len(list_element) > 0
            and all(item.get("rend", "").startswith("dt") for item in list_element)
            and not (list_element.tail or "").strip()
        )

    if element.tag != "list":
        return False
    following = element.getnext()
    return (terms_only(element) and following is not None and following.get("rend") == "dl") or terms_only(
        element.getprevious()
    )


def holds_paragraphs(cell: etree._Element) -> bool:
    """Whether a table cell holds paragraphs of its own, as a cell of a table used for page layout does:
    a heading, three blocks or more, or a block broken by line breaks. (A data table's cell may hold
    two paragraphs: Sphinx's "Task | The best tool for the task" rows in the logging HOWTO.)"""
    blocks = [child for child in cell if child.tag in PARAGRAPH_TAGS]
    return (
        len(blocks) > 2
        or any(block.tag == "head" for block in blocks)
        or any(block.find(".//lb") is not None for block in blocks)
    )


def places_of_cells(table: etree._Element) -> set[int] | None:
    """The columns of trafilatura's `table` whose empty cells hold their place in a row line: those with text
    in some row. None for a table used for page layout, whose columns line nothing up: its empty cells,
    spacers, hold no place. A table is one used for layout where a cell of it holds paragraphs and none
    is a header cell (<th>): a data table may have a cell of several paragraphs (tkinter.ttk's
    "xscrollcommand | Used to communicate with horizontal scrollbars." and two more), and a layout table
    has no use for headers."""
    rows = list(table.iterchildren("row"))
    cells = [cell for row in rows for cell in row.iterchildren("cell")]
    if not any(cell.get("role") == "head" for cell in cells) and any(holds_paragraphs(cell) for cell in cells):
        return None
    return {position for row in rows for position, cell in enumerate(row.iterchildren("cell")) if has_text(cell)}


def cells_in_place(row: etree._Element, places: set[int] | None) -> list[etree._Element]:
    """The cells a table `row`'s line is written from, " | " between them; none for a row without text.

    In a data table (`places`, from places_of_cells) an empty cell holds its column's place up to the
    row's last cell with text, so that under "Text data | Binary data" the line "| decode" says which
    column "decode" is in. After that last cell an empty one says nothing (and trafilatura pads rows to
    the table's width, and a spanning cell with empty cells). A column empty in every row holds no place.
    In a table used for layout (`places` None) only the cells with text are written."""
    cells = list(row.iterchildren("cell"))
    if places is None:
        return [cell for cell in cells if has_text(cell)]
    in_place = [cell for position, cell in enumerate(cells) if position in places]
    while in_place and not has_text(in_place[-1]):
        in_place.pop()
    return in_place


def has_text(element: etree._Element) -> bool:
    return bool("".join(element.itertext()).strip())


def is_code_block(element: etree._Element) -> bool:
    """Whether a <code> of trafilatura's tree is a block (from <pre> or highlighted code) rather than
    a run of code inside a sentence: it stands between blocks, or alone or over several lines in a
    list item."""
    parent = element.getparent()
    if parent is None or parent.tag in ("body", "quote"):
        return True
    if parent.tag != "item":  # in a paragraph, heading or inline element: part of a sentence
        return False
    alone = not (parent.text or "").strip() and not (element.tail or "").strip() and len(parent) == 1
    return alone or "\n" in code_text(element).strip()


def code_text(element: etree._Element) -> str:
    """The text of a code element, its <lb/>s as newlines."""
    pieces = [element.text or ""]
    for child in element:
        pieces.append("\n" if child.tag == "lb" else code_text(child))
        pieces.append(child.tail or "")
    return "".join(pieces)
