"""Marked code blocks: the filters judge a document's prose and carry its code through.

`clean.code_blocks: mark` writes each code block of an HTML page between two fence lines, "```"
(transforms/html_text.py). The web filters are rules for prose: code's repeated
lines (`}`, `>>>`), its lines without a full stop and its "{" would drop the page or strip it to
fragments. So the filter stage (transforms/filters/stage.py) takes the code out, runs every step
on the prose alone, and puts the code back where it was among the prose lines that survive:

    "intro\\n\\n```\\nx = {}\\n```\\n\\nmore"  --split_marked_code-->  prose "intro\\n\\nmore"
                                                                code "```\\nx = {}\\n```" after prose line 1

A fence line is three or more backticks and nothing else. A block opens with a fence line and
closes with the next line that is the same fence; code that holds a "```" line of its own (a
Markdown example) is written between longer fences (`fence_for`), as CommonMark allows. A fence left
open is prose, so text cannot hide from the filters by opening a fence and never closing it.
A document with no prose left has nothing the minimum rules can count and is dropped by them.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

FENCE = "```"
_FENCE_LINE = re.compile(r"^`{3,}$", re.MULTILINE)  # a line that is_fence, found in a whole text


def is_fence(line: str) -> bool:
    """Whether `line` is a fence line: three or more backticks and nothing else."""
    return len(line) >= len(FENCE) and line.count("`") == len(line)


def fence_for(code: str) -> str:
    """The fence to write `code` between: "```", or one backtick longer than the longest fence line in
    the code, which would otherwise close the block early."""
    longest = max((len(line) for line in code.split("\n") if is_fence(line)), default=len(FENCE) - 1)
    return "`" * (longest + 1)


def fenced(code: str) -> str:
    """`code` as a marked block: between two fence lines."""
    fence = fence_for(code)
    return f"{fence}\n{code}\n{fence}"


@dataclass(frozen=True)
class MarkedCode:
    """A document split into its prose and its closed code blocks.

    prose: the text outside the code blocks, the stretches between blocks a paragraph apart.
    blocks: each code block verbatim, its fence lines included, in order.
    lines_before: for each block, how many non-blank prose lines come before it.
    """

    prose: str
    blocks: tuple[str, ...]
    lines_before: tuple[int, ...]

    def with_code(self, prose: str, origins: Sequence[int] | None = None) -> str:
        """The document again: `prose` (this prose after steps edited it) with the code blocks back in place.

        origins: for each non-blank line of `prose`, its position among the non-blank lines of
        `self.prose`; None where every line is still there, one for one. A block comes back after
        the surviving lines that were before it, a paragraph apart from them."""
        parts: list[list[str]] = [[] for _ in range(len(self.blocks) + 1)]  # the prose before each block, and after
        part = position = 0
        for line in prose.split("\n"):
            if line.strip():
                origin = origins[position] if origins is not None else position
                part = bisect.bisect_right(self.lines_before, origin)
                position += 1
            parts[part].append(line)  # a blank line stays with the line before it: stripped at a part's end
        pieces: list[str] = []
        for lines, block in zip(parts, [*self.blocks, ""]):
            pieces += ["\n".join(lines).strip("\n"), block]
        return "\n\n".join(piece for piece in pieces if piece)

    def edit_code(self, edit: Callable[[str], str]) -> MarkedCode:
        """The same document with `edit` applied to the code of each block, between its fences; `self`
        where `edit` changed nothing."""
        blocks = []
        for block in self.blocks:
            fence_length = block.index("\n")
            code = block[fence_length + 1 : -fence_length - 1]
            edited = edit(code)
            blocks.append(block if edited == code else fenced(edited))
        if blocks == list(self.blocks):
            return self
        return MarkedCode(self.prose, tuple(blocks), self.lines_before)


def block_spans(text: str) -> Iterator[tuple[int, int]]:
    """(start, end) in `text` of each closed code block, from the first character of its opening fence
    line to the last of its closing one. A fence line that no later line of the same fence closes is
    prose, and the search goes on from the line after it."""
    if FENCE not in text:  # most documents: nothing to look for
        return
    fences = list(_FENCE_LINE.finditer(text))
    # for each fence line, the next line of the same fence: one pass from the end, not a search per line
    next_same: list[int | None] = [None] * len(fences)
    last_seen: dict[str, int] = {}
    for i in range(len(fences) - 1, -1, -1):
        next_same[i] = last_seen.get(fences[i].group())
        last_seen[fences[i].group()] = i
    i = 0
    while i < len(fences):
        closing = next_same[i]
        if closing is None:
            i += 1
            continue
        yield fences[i].start(), fences[closing].end()
        i = closing + 1


def split_marked_code(text: str) -> MarkedCode | None:
    """`text` split into prose and closed code blocks; None where it holds no closed block."""
    stretches: list[str] = []  # the prose before each block, and after the last
    blocks: list[str] = []
    lines_before: list[int] = []
    prose_lines = 0
    position = 0
    for start, end in block_spans(text):
        stretch = text[position:start].strip("\n")
        prose_lines += sum(1 for line in stretch.split("\n") if line.strip())
        stretches.append(stretch)
        blocks.append(text[start:end])
        lines_before.append(prose_lines)
        position = end
    if not blocks:
        return None
    stretches.append(text[position:].strip("\n"))
    return MarkedCode("\n\n".join(stretch for stretch in stretches if stretch), tuple(blocks), tuple(lines_before))
