"""Which document of a duplicate group is kept: the one with the smallest rank.

A rank is a string that sorts like the keep rule: source priority (position in
`source_priority`, unlisted sources after), then length (longest first, or shortest with
keep_longest false), then document id. Ranks name the nodes of the duplicate graph, so the root
of each connected component (its smallest node) is the document to keep, with no extra step.
"""

from __future__ import annotations

from transforms.dedup.settings import DedupConfig
from transforms.records import Document

_LENGTH_DIGITS = 16
_LENGTH_LIMIT = 10**_LENGTH_DIGITS - 1


class KeepRule:
    """rank(row) per a DedupConfig's source_priority and keep_longest."""

    def __init__(self, config: DedupConfig):
        self._priority = {source: i for i, source in enumerate(config.source_priority)}
        self._unlisted = len(config.source_priority)
        self._longest = config.keep_longest

    def rank(self, row: Document) -> str:
        """'PPPP|LLLLLLLLLLLLLLLL|id': priority, length key (characters of text), id."""
        priority = self._priority.get(row["source"], self._unlisted)
        length = min(len(row["text"]), _LENGTH_LIMIT)
        length_key = _LENGTH_LIMIT - length if self._longest else length
        return f"{priority:04d}|{length_key:0{_LENGTH_DIGITS}d}|{row['id']}"


def id_of(rank: str) -> str:
    """The document id inside a rank."""
    return rank.split("|", 2)[2]
