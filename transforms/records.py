"""The record types that flow between the stages of `textshards prepare`.

A reader turns a file into RawDocuments (and ReadErrors, the dead letters); cleaning turns a RawDocument
into a Document, a plain dict from there on; the filter stage keeps it or drops it (a RejectedDocument).
"""

from __future__ import annotations

from collections.abc import Mapping
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
    record), "jsonl" (a line), "parquet" (a row), or "record" (a GivenDocument: no file held it).
    Filters tell books from web text by it: all but "file" is web text (filters.sources overrides).
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
class GivenDocument(RawDocument):
    """A document given as a record (`document_from_record`) instead of read from a file: its id is
    the record's own, as given. `path` holds that id too, so that its dead letter names it."""

    @property
    def id(self) -> str:
        return self.path


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


RECORD_KINDS = ("text", "html")


def document_from_record(record: Mapping) -> GivenDocument | ReadError:
    """A document that a Beam pipeline hands to prepare as a record: a mapping with a unique "id",
    its "source" and its "text" (str, or bytes to be decoded), and optionally its "url" and "kind"
    ("text", the default, or "html" for a page whose main text is to be extracted). A record that
    lacks any of them, or holds a wrong type, is the dead letter "invalid_record"."""
    source, record_id, text = record.get("source"), record.get("id"), record.get("text")
    url, kind = record.get("url"), record.get("kind", "text")
    if not isinstance(source, str) or not source:
        return ReadError("unknown", "", 0, "invalid_record", f"no string 'source' ({source!r})")
    if not isinstance(record_id, str) or not record_id:
        return ReadError(source, "", 0, "invalid_record", f"no string 'id' ({record_id!r})")
    if not isinstance(text, (str, bytes)):
        return ReadError(source, record_id, 0, "invalid_record", f"no string 'text' ({type(text).__name__})")
    if url is not None and not isinstance(url, str):
        return ReadError(source, record_id, 0, "invalid_record", f"'url' is not a string ({url!r})")
    if kind not in RECORD_KINDS:
        return ReadError(source, record_id, 0, "invalid_record", f"'kind' {kind!r} is not one of {RECORD_KINDS}")
    return GivenDocument(source=source, path=record_id, position=0, kind=kind, data=text, url=url, container="record")


def document_id(source: str, path: str, position: int | str) -> str:
    """A deterministic id: the same file read again, from any root, gives the same ids. `path` is
    the file's path below its input's root; `position` is the record's place in the file, or its
    own id (unique in the file: the readers make every repeat a dead letter)."""
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
    container: str  # as RawDocument.container: "file", "warc", "jsonl", "parquet" or "record"
    encoding: str  # how the bytes were decoded, "utf-8 (bom)", "cp1252 (declared)"...; "unicode" for text
    language: NotRequired[str | None]  # the FilterColumns
    language_score: NotRequired[float | None]
    text: str


class RejectedDocument(Document):
    """A document a filter step dropped, as rejected/*.parquet stores it: the text as it entered the
    filter stage, the filter columns measured before the drop, and why (the Verdict's reason)."""

    reason: str
