"""The record types that flow between the stages of `textshards prepare`."""

from __future__ import annotations

from dataclasses import dataclass

EXCERPT_BYTES = 200  # enough to recognise a bad record by eye, small enough for a JSONL line


@dataclass(frozen=True)
class RawDocument:
    """One document as read from its container, before decoding and cleaning.

    `position` locates the record inside `path`: a byte offset for WARC records,
    a 1-based line number for JSON lines, a row index for Parquet, 0 for a whole file.
    `data` is bytes when the reader could not know the text encoding, str otherwise.
    `declared_charset` is the charset a container declared (an HTTP Content-Type), if any.
    `container` is what held it: "file" (the whole file is the document), "warc" (a WARC/WET/ARC
    record), "jsonl" (a line) or "parquet" (a row). Filters tell books from web text by it.
    `record_id` is the record's own id (read.id_field), which replaces `position` in the id.
    """

    source: str
    path: str
    position: int
    kind: str
    data: bytes | str
    url: str | None = None
    declared_charset: str | None = None
    container: str = "file"
    record_id: str | None = None

    @property
    def id(self) -> str:
        return document_id(self.source, self.path, self.position if self.record_id is None else self.record_id)

    def excerpt(self) -> bytes:
        """The first bytes of the document, for a dead-letter record."""
        head = self.data[:EXCERPT_BYTES]
        return head if isinstance(head, bytes) else head.encode("utf-8")

    def size_bytes(self) -> int:
        """Size in bytes (of the UTF-8 encoding where the reader gave text)."""
        return len(self.data) if isinstance(self.data, bytes) else len(self.data.encode("utf-8"))


@dataclass(frozen=True)
class ReadError:
    """A record that could not be read, decoded or cleaned: it goes to the dead-letter output."""

    source: str
    path: str
    position: int
    error: str  # short machine-readable kind, e.g. "truncated_gzip", "invalid_json"
    message: str  # human-readable detail
    excerpt: bytes = b""

    def to_json_dict(self) -> dict:
        return {
            "source": self.source,
            "path": self.path,
            "position": self.position,
            "error": self.error,
            "message": self.message,
            "excerpt": self.excerpt[:EXCERPT_BYTES].decode("utf-8", errors="backslashreplace"),
        }


def document_id(source: str, path: str, position: int | str) -> str:
    """A deterministic id: the same file read again gives the same ids. `position` is the
    record's place in its file, or its own id (unique in the file: read_file sees to it)."""
    return f"{source}:{path}:{position}"
