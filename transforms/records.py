"""The record types that flow between the stages of `textshards prepare`.

A reader turns a file into RawDocuments (and ReadErrors, the dead letters); cleaning turns a RawDocument
into a Document, a plain dict from there on; the filter stage keeps it or drops it (a RejectedDocument).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NotRequired, TypedDict

EXCERPT_BYTES = 200  # enough to recognise a bad record by eye, small enough for a JSONL line


@dataclass(frozen=True)
class RawDocument:
    """One document as read from its container, before decoding and cleaning.

    `path` is the file's path below its input's root (InputSpec.relative_path): the same files
    give the same `path`, and so the same ids, wherever they are read from.
    `position` locates the record inside the file: a byte offset for WARC records,
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
    """A record that could not be read, decoded or cleaned: it goes to the dead-letter output.
    `path` is below the input's root, as in RawDocument: the dead letters too are the same bytes
    wherever the files are read from."""

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
    """A deterministic id: the same file read again, from any root, gives the same ids. `path` is
    the file's path below its input's root; `position` is the record's place in the file, or its
    own id (unique in the file: read_file sees to it)."""
    return f"{source}:{path}:{position}"


class FilterColumns(TypedDict, total=False):
    """The Document columns that filter steps fill (a Verdict's `columns`). The filter stage sets
    those that no step of a document's source filled to None."""

    language: str | None  # fastText's label: "en", "de", ... ("und" when it gives none)
    language_score: float | None  # its probability, 0..1


class Document(TypedDict):
    """A cleaned document: one row of docs/*.parquet (transforms/writers.py's DOCS_SCHEMA).

    From cleaning on, documents travel as plain dicts, which Beam pickles and Parquet writes as they
    are; a TypedDict is a dict at run time, so this only names the columns and their types.
    Cleaning (transforms/clean.py) fills all but the filter columns, which the filter stage adds.
    """

    id: str  # document_id(): source:relative path:position, or source:relative path:record id
    source: str
    url: str | None
    kind: str  # "html" or "text", as RawDocument.kind
    container: str  # as RawDocument.container: "file", "warc", "jsonl" or "parquet"
    encoding: str  # how the bytes were decoded, "utf-8 (bom)", "cp1252 (declared)"...; "unicode" for text
    language: NotRequired[str | None]  # the FilterColumns
    language_score: NotRequired[float | None]
    text: str


class RejectedDocument(Document):
    """A document a filter step dropped, as rejected/*.parquet stores it: the text as it entered the
    filter stage, the filter columns measured before the drop, and why (the Verdict's reason)."""

    reason: str
