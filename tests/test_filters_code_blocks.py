"""Marked code blocks in the filter stage: the steps judge the prose, the code comes through in place."""

import pytest

from tests.helpers import PROSE
from transforms.filters.code_blocks import fenced, split_marked_code
from transforms.filters.stage import FiltersConfig, Steps, filter_document

STEPS = Steps(FiltersConfig())
WEB_STEPS = [STEPS.step(spec) for spec in FiltersConfig().web]

# Code as clean.code_blocks: mark writes it (transforms/html_text.py): lines without a full stop, a
# "{", lines that repeat ("}", ">>>"), an address in a comment. Any of these drops a page whose code
# the filters read as prose, or C4 strips it to nothing.
CODE = """```
>>> import json
>>> json.dumps({"harbour": "quiet", "boats": 3})
'{"harbour": "quiet", "boats": 3}'
>>> json.loads('{}')
{}
```"""
CODE_WITH_ADDRESS = """```
def notify(boats):
    # Each boat is a dict such as {"name": "Ada", "crew": 4}.
    # mail the harbour master, ed@harbour.org, from 203.0.113.7 or 8.8.8.8
    for boat in boats:
        send(boat)
```"""
FIRST, SECOND, THIRD = PROSE.split("\n\n")
PAGE = f"{FIRST}\n\n{CODE}\n\n{SECOND}\n\n{CODE_WITH_ADDRESS}\n\n{THIRD}"
NAVIGATION = "Home | Library | Tutorial"


def _row(text: str) -> dict:
    return {"id": "web:/p.html:0", "source": "web", "url": None, "kind": "html", "container": "file", "text": text}


def test_the_prose_rules_judge_the_prose_and_ignore_marked_code():
    result = filter_document(_row(PAGE), WEB_STEPS)
    assert result.reason is None
    assert CODE in result.row["text"]
    # The same page with its code read as prose: C4's "{" drops it (in a comment that is a sentence).
    unmarked = PAGE.replace("```\n", "").replace("\n```", "")
    assert filter_document(_row(unmarked), WEB_STEPS).reason == "c4.curly_bracket"


def test_a_page_no_step_edits_comes_back_byte_for_byte():
    page = f"{FIRST}\n```\n  indented = True\n\n\n```\n{SECOND}\n\n{THIRD}"  # a code block a line apart
    assert filter_document(_row(page), WEB_STEPS).row["text"] == page


def test_c4_removes_prose_lines_only_and_the_code_returns_in_place():
    page = f"{NAVIGATION}\n\n{FIRST}\n\n{CODE}\n\nShare this page\n\n{SECOND}\n\n{THIRD}\n\n{CODE}\n\nPrevious | Next"
    result = filter_document(_row(page), [STEPS.step("c4")])
    assert result.row["text"] == f"{FIRST}\n\n{CODE}\n\n{SECOND}\n\n{THIRD}\n\n{CODE}"
    assert result.counts == {"lines_removed.c4.no_terminal_punctuation": 3}


def test_a_code_block_whose_prose_around_it_is_all_removed_keeps_its_place_between_the_others():
    page = f"{FIRST}\n\nExample one\n\n{CODE}\n\nExample two\n\n{CODE_WITH_ADDRESS}\n\n{SECOND}\n\n{THIRD}"
    result = filter_document(_row(page), [STEPS.step("c4")])
    assert result.row["text"] == f"{FIRST}\n\n{CODE}\n\n{CODE_WITH_ADDRESS}\n\n{SECOND}\n\n{THIRD}"


def test_pii_is_redacted_inside_code_and_counted():
    result = filter_document(_row(PAGE), WEB_STEPS)
    text = result.row["text"]
    assert "ed@harbour.org" not in text and "8.8.8.8" not in text
    # 203.0.113.7 is a documentation address, not a person's: kept
    assert "# mail the harbour master, email@example.com, from 203.0.113.7 or 192.0.2.1" in text
    assert result.counts["pii.email"] == 1 and result.counts["pii.ip_address"] == 1
    assert text.index("def notify") > text.index(SECOND[:40]) > text.index(CODE)  # still in their places


def test_a_document_of_code_alone_is_dropped():
    result = filter_document(_row(f"{CODE}\n\n{CODE_WITH_ADDRESS}"), WEB_STEPS)
    assert result.row is None
    # language identification of no text at all is unsure: the first step drops it
    assert result.reason == "language.low_score"
    assert filter_document(_row(f"{CODE}\n\n{CODE_WITH_ADDRESS}"), [STEPS.step("gopher_quality")]).reason == (
        "gopher_quality.word_count"
    )


def test_spam_inside_a_fence_gains_nothing_when_the_prose_fails():
    spam = "\n".join(["Buy cheap watches now, the best watches online at the lowest price."] * 40)
    result = filter_document(_row(f"Watches.\n\n```\n{spam}\n```"), WEB_STEPS)
    assert result.row is None


# A sentence C4 keeps as a line (five words, a full stop) and then drops the page for.
CURLY = "Write {name} where the name of the boat goes."


@pytest.mark.parametrize(
    "text",
    [
        f"{FIRST}\n\n```\n{CURLY}\n\n{SECOND}",  # opened, never closed
        f"{FIRST}\n\n```python\n{CURLY}\n```\n\n{SECOND}",  # html_text writes no info string: text
        f"{FIRST}\n\n ```\n{CURLY}\n```\n\n{SECOND}",  # a fence is backticks alone
        f"{FIRST}\n\n````\n{CURLY}\n```\n\n{SECOND}",  # closed by the same fence only
    ],
)
def test_a_fence_that_does_not_close_a_block_is_prose(text):
    marked = split_marked_code(text)
    assert marked is None or CURLY in marked.prose
    assert filter_document(_row(text), [STEPS.step("c4")]).reason == "c4.curly_bracket"


def test_split_marked_code_counts_the_prose_lines_before_each_block():
    marked = split_marked_code(f"{NAVIGATION}\n{FIRST}\n\n{CODE}\n{SECOND}\n\n{CODE}\n{CODE_WITH_ADDRESS}")
    assert marked.prose == f"{NAVIGATION}\n{FIRST}\n\n{SECOND}"
    assert marked.blocks == (CODE, CODE, CODE_WITH_ADDRESS)
    assert marked.lines_before == (2, 3, 3)
    assert split_marked_code(PROSE) is None


def test_code_holding_a_fence_line_is_written_between_longer_fences_and_stays_one_block():
    markdown_example = "Write a block as:\n```\nprint(1)\n```\n````\nand longer ones too\n````"
    block = fenced(markdown_example)
    assert block == f"`````\n{markdown_example}\n`````"
    marked = split_marked_code(f"{FIRST}\n\n{block}\n\n{SECOND}")
    assert marked.blocks == (block,) and marked.prose == f"{FIRST}\n\n{SECOND}"
    assert fenced("x = 1") == "```\nx = 1\n```"


def test_an_edit_of_the_code_keeps_its_block_whole():
    block = fenced("```\nmail ed@harbour.org\n```")
    edited = split_marked_code(f"{FIRST}\n\n{block}").edit_code(lambda code: code.replace("ed@harbour.org", "<EMAIL>"))
    assert edited.blocks == ("````\n```\nmail <EMAIL>\n```\n````",)
