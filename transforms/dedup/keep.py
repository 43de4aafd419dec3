"""Which document of a duplicate group is kept: the one with the smallest name.

A node of the duplicate graph is named (rank, node): the rank is an integer that sorts like the
keep rule (source priority: position in `source_priority`, unlisted sources after; then length,
longest first, or shortest with keep_longest false), and the node is the document's place in the
input (its part's index in input order, then its row), which breaks ties: among documents the rule
ranks equal, the first in the input is kept. Names are two integers, so they travel cheaply
through every shuffle of the graph, and the root of each connected component (its smallest name)
is the document to keep, with no extra step.
"""

from __future__ import annotations

from transforms.dedup.settings import MAX_SOURCE_PRIORITIES, DedupConfig
from transforms.records import Document

_LENGTH_BITS = 54  # lengths up to 1.8e16 characters; the priority takes the 9 bits above (rank < 2**63)
_LENGTH_LIMIT = (1 << _LENGTH_BITS) - 1
_ROW_BITS = 32  # rows of one part file

# (rank, node): how the duplicate graph names a document.
Name = tuple[int, int]


class KeepRule:
    """rank(row) per a DedupConfig's source_priority and keep_longest."""

    def __init__(self, config: DedupConfig):
        self._priority = {source: i for i, source in enumerate(config.source_priority)}
        self._unlisted = len(config.source_priority)
        assert self._unlisted <= MAX_SOURCE_PRIORITIES  # DedupConfig.problems says so
        self._longest = config.keep_longest

    def rank(self, row: Document) -> int:
        """Priority in the top 9 bits, then the length key (characters of text) in 54 bits."""
        priority = self._priority.get(row["source"], self._unlisted)
        length = min(len(row["text"]), _LENGTH_LIMIT)
        length_key = _LENGTH_LIMIT - length if self._longest else length
        return priority << _LENGTH_BITS | length_key


def node_of(part_index: int, row: int) -> int:
    """A document's place in the input: its part's index (in input order), then its row."""
    return part_index << _ROW_BITS | row


def location_of(node: int) -> tuple[int, int]:
    """(part index, row) of a node."""
    return node >> _ROW_BITS, node & ((1 << _ROW_BITS) - 1)
