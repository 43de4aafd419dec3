"""Read WARC, WET and legacy ARC files into RawDocuments.

`iter_warc_records` yields exactly one item per record it could frame, plus one ReadError
where the container itself breaks:

- `RawDocument` for a record that holds a text document: an HTTP `response` or a
  `resource` whose payload is HTML (kind "html") or plain text (kind "text"), or a WET
  `conversion` record (kind "text", UTF-8 bytes). `data` is the payload bytes with the
  HTTP headers removed and any chunked transfer coding and gzip/deflate/br content coding
  undone; the text encoding is left to the decoding stage, helped by `declared_charset`.
- `Skipped` for a record that was read correctly but is not a text document: warcinfo,
  request, metadata (so also WAT files), revisit, non-2xx HTTP responses, images and other
  non-text payloads, empty payloads, wget's own log resources. It is not an error; callers
  count it by `reason`.
- `ReadError` for a record or container that is damaged: a record cut short, header or
  block incomplete ("truncated_gzip" in a compressed file, "truncated_record" otherwise),
  a payload whose HTTP coding cannot be undone ("bad_http_encoding"), a header that cannot
  be parsed ("malformed_warc"), a gzip stream that ends early or is corrupt
  ("truncated_gzip", "corrupt_gzip"), a stream that cannot be read ("read_failed"), a
  text payload larger than the document limit, as stored or once its HTTP codings are undone
  ("document_too_large"), a record whose Content-Length does not end where the next record
  starts ("content_length_mismatch").
  After a header that cannot be parsed, or a record whose Content-Length runs past the end of
  the file, a plain file is read on from the next record boundary after that record's start
  (CRLF CRLF, then "WARC/"). A gzip-per-record file whose member cannot be inflated or framed is
  read on from the next gzip member that inflates to "WARC/". Any other container defect (in a
  whole-file gzip stream, an ARC file) ends the file. Every record before a defect has already
  been yielded.

Memory is bounded by the document limit: a payload is read only after its Content-Length is
checked against it, and every decompression (containers, HTTP codings) stops at it.

Nothing here raises on bad input.

`split_points` finds where a large plain or gzip-per-record WARC file can be cut so that
several workers read it: only at offsets where a record (or the gzip member of one) starts,
found by walking the records from the start of the file, never by searching for a header
(a payload can hold a whole WARC file, headers and all). `iter_warc_records(..., stop=...)`
then reads the records of one part.

fastwarc reads WARC (it is 3.7x faster than warcio here, see docs/web-readers.md); warcio
reads the legacy ARC format, which fastwarc cannot parse.
"""

from __future__ import annotations

import io
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from fastwarc.stream_io import BrotliReader, ChunkedReader
from fastwarc.warc import ArchiveIterator as FastwarcIterator
from warcio.archiveiterator import ArchiveIterator as WarcioIterator

from transforms.records import EXCERPT_BYTES, RawDocument, ReadError

GZIP_MAGIC = b"\x1f\x8b"
MAX_DOCUMENT_BYTES = 64 * 1024 * 1024  # the document limit where a caller gives none (read.max_document_bytes)
PAYLOAD_READ_BYTES = 1024 * 1024  # read unit while reading past a payload over the limit
SNIFF_BYTES = 64 * 1024  # read unit while sniffing the container layout
TEXT_KINDS = {"text/html": "html", "application/xhtml+xml": "html", "text/plain": "text"}
DOCUMENT_RECORD_TYPES = ("response", "resource", "conversion")

_CONTENT_LENGTH = re.compile(rb"^content-length:[ \t]*(\d+)", re.IGNORECASE | re.MULTILINE)
_CHUNK_SIZE_LINE = re.compile(rb"[0-9a-fA-F]+[ \t]*(;[^\r\n]*)?\r?\n")


@dataclass(frozen=True)
class Skipped:
    """A record read without fault that holds no text document.

    `reason` is short and countable: "record_type:request", "http_status:301",
    "content_type:image/png", "crawler_metadata".
    """

    source: str
    path: str
    position: int
    reason: str


WarcItem = RawDocument | Skipped | ReadError


@dataclass(frozen=True)
class _Record:
    """One record, independent of the library that framed it."""

    type: str  # WARC-Type: "response", "resource", "conversion", "request", ...
    position: int  # byte offset of the record in the file (see iter_warc_records)
    url: str | None
    content_type: str | None  # HTTP Content-Type for HTTP records, else the WARC one
    http_status: int | None  # None when the payload is not an HTTP message
    transfer_encoding: str
    content_encoding: str
    payload: bytes  # after the HTTP headers, still transfer- and content-coded; its start only where too_large
    truncated: bool  # the header or block ended before it was complete
    too_large: bool = False  # the payload is longer than the document limit: it was read past, not kept


def looks_like_warc(head: bytes) -> bool:
    """True if `head` (the first bytes of a file, a few hundred suffice) starts a WARC,
    WET, WAT or ARC file, plain or gzip-compressed."""
    return _plain_head(head).startswith((b"WARC/", b"filedesc://"))


def iter_warc_records(
    stream: BinaryIO, source: str, path: str, stop: int | None = None, max_bytes: int = MAX_DOCUMENT_BYTES
) -> Iterator[WarcItem]:
    """Yield one RawDocument, Skipped or ReadError per record of a WARC/WET/WAT/ARC file.

    `stream` is the file's raw bytes, opened without transparent decompression and seekable
    (a local file or a Beam `FileSystems.open(..., compression_type=UNCOMPRESSED)` handle).
    Plain, gzip-per-record and whole-file gzip files are read. `position` is the record's
    byte offset in the file as stored: the offset of its gzip member for per-record gzip
    (the offset Common Crawl indexes use), the offset in the decompressed stream for a
    whole-file gzip, whose records share one member.

    Reading starts at the stream's position. A part of a file (see `split_points`) is read
    by seeking to its first record and passing `stop`, the offset where the next part
    begins: the bytes from there on are not read. `max_bytes` is the document limit
    (read.max_document_bytes): no payload larger than it is held in memory.
    """
    if stop is not None:
        stream = _Bounded(stream, stop)  # type: ignore[assignment]  # reads like a BinaryIO
    last_position = stream.tell()
    try:
        layout = _container_layout(stream)
        if layout == "arc":
            yield from (_to_item(r, source, path, True, max_bytes) for r in _warcio_records(stream, max_bytes))
            return
        if layout == "gzip_whole_file":
            whole_file = _WholeFileGzip(stream)
            # fastwarc reports one position for all records of a gzip member; fed plain
            # bytes instead, it gives each record its own (decompressed) offset.
            items = _fastwarc_items(whole_file, False, source, path, True, max_bytes)
            item = None
            for item in items:
                last_position = item.position
                yield item
            if whole_file.truncated and not isinstance(item, ReadError):
                yield ReadError(
                    source,
                    path,
                    last_position,
                    "truncated_gzip",
                    f"gzip stream ends inside a member, after the record at byte {last_position}",
                )
            return
        compressed = layout != "plain"
        while True:
            items = _fastwarc_items(stream, True, source, path, compressed, max_bytes)
            last_item = None
            try:
                for last_item in items:
                    last_position = last_item.position
                    yield last_item
                if not (isinstance(last_item, ReadError) and last_item.error == "truncated_record"):
                    return
                # Its Content-Length ran past the end of the file: the records it swallowed are read.
                bad_record_at = last_item.position
            except _MisframedRecord as misframed:
                yield misframed.error
                bad_record_at = misframed.error.position
            except (GeneratorExit, KeyboardInterrupt, SystemExit):
                raise
            except BaseException as exc:  # fastwarc's panics too, as below
                if not compressed:
                    raise
                # A gzip member that cannot be inflated or framed: it costs its record, and the
                # next member that starts a record is read (gzip per record; a whole-file gzip
                # stream has no member to go on with).
                bad_member_at = last_position if last_item is None else _member_end(stream, last_position)
                if bad_member_at is None:
                    raise
                yield _container_error(exc, stream, source, path, bad_member_at, at_defect=True)
                bad_record_at = bad_member_at
            # A payload may hold a whole WARC file: the boundary searched for is the first after
            # the bad record's header, which is the most that can be saved.
            restart = _next_record_start(stream, bad_record_at + 1, compressed)
            if restart is None:
                return
            stream.seek(restart)
            last_position = restart
    except (GeneratorExit, KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # fastwarc's Rust panics derive from BaseException;
        # a damaged container must become a dead letter, never a crash
        yield _container_error(exc, stream, source, path, last_position)


class _MisframedRecord(Exception):
    """A header that cannot be parsed right after a record of a plain file: that record's
    Content-Length lied, or bytes were inserted after it. `error` is the dead letter for it."""

    def __init__(self, error: ReadError):
        super().__init__(error.message)
        self.error = error


def _fastwarc_items(
    stream: BinaryIO | _WholeFileGzip, stream_detect: bool, source: str, path: str, compressed: bool, max_bytes: int
) -> Iterator[WarcItem]:
    """The items of the records fastwarc frames, each held back until the next header parses.

    In a plain file, a header that fails to parse right after a record means that record's
    block did not end where its Content-Length said: it is not yielded as a document (its
    text would be cut or run into the next record) but raised as a _MisframedRecord, and the
    caller resumes at the next record boundary.
    """
    held: WarcItem | None = None
    records = _fastwarc_records(stream, stream_detect, max_bytes)
    while True:
        try:
            record = next(records, None)
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:  # see iter_warc_records
            if held is not None and not compressed and "warc header" in str(exc).lower():
                raise _MisframedRecord(_misframed_error(held, exc)) from exc
            if held is not None:
                yield held  # the defect is after it
            raise
        if record is None:
            break
        if held is not None:
            yield held
        held = _to_item(record, source, path, compressed, max_bytes)
    if held is not None:
        yield held


def _misframed_error(held: WarcItem, exc: BaseException) -> ReadError:
    return ReadError(
        held.source,
        held.path,
        held.position,
        "content_length_mismatch",
        f"{type(exc).__name__}: {exc} right after the record at byte {held.position}: its "
        "Content-Length does not end where the next record starts",
        held.excerpt() if isinstance(held, RawDocument) else b"",
    )


def _next_record_start(stream: BinaryIO, after: int, compressed: bool) -> int | None:
    """The offset of the first record start at or after `after`, None if there is none before the
    end: in a plain file, where "WARC/" follows CRLF CRLF; in a gzip-per-record file, where a gzip
    member starts whose first bytes inflate to "WARC/"."""
    marker, boundary = (GZIP_MAGIC + b"\x08", 0) if compressed else (b"\r\n\r\nWARC/", 4)
    while (found := _find(stream, marker, after)) is not None:
        if not compressed or _member_starts_record(stream, found):
            return found + boundary
        after = found + 1
    return None


def _find(stream: BinaryIO, marker: bytes, after: int) -> int | None:
    """The offset of the first `marker` at or after `after`, read in bounded steps."""
    stream.seek(after)
    carried, carried_at = b"", after  # the tail of the last read, which a marker may start in
    while chunk := stream.read(WALK_READ_BYTES):
        window = carried + chunk
        found = window.find(marker)
        if found >= 0:
            return carried_at + found
        carried = window[-(len(marker) - 1) :]
        carried_at += len(window) - len(carried)
    return None


def _member_starts_record(stream: BinaryIO, at: int) -> bool:
    stream.seek(at)
    return _plain_head(stream.read(HEADER_PROBE_BYTES)).startswith(b"WARC/")


def _member_end(stream: BinaryIO, at: int) -> int | None:
    """Where the gzip member that starts at `at` ends; None if it does not inflate to its end."""
    stream.seek(at)
    inflater = zlib.decompressobj(wbits=31)
    read = 0
    try:
        while chunk := stream.read(GZIP_READ_BYTES):
            data = chunk
            while data and not inflater.eof:
                inflater.decompress(data, INFLATE_UNIT)  # the bytes are counted, not kept
                data = inflater.unconsumed_tail
            read += len(chunk)
            if inflater.eof:
                return at + read - len(inflater.unused_data)
    except zlib.error:
        pass
    return None


# ---------------------------------------------------------------------------
# Splitting a file into parts that start on records

MAX_HEADER_BYTES = 64 * 1024  # a longer WARC header ends the search for split points
HEADER_PROBE_BYTES = 8 * 1024  # most WARC headers are shorter: looked for first
WALK_READ_BYTES = 256 * 1024  # read unit of the walk over plain records
GZIP_READ_BYTES = 64 * 1024  # read unit of the walk over gzip members (smaller: less to carry over)
INFLATE_UNIT = 1024 * 1024  # decompressed bytes per zlib call in the walk over gzip members


def split_points(stream: BinaryIO, split_bytes: int) -> list[int]:
    """Offsets where the parts of a WARC file begin: 0, then the first record start at least
    `split_bytes` after the previous point, and so on; [0] for a file that is not split.

    Plain files (a record starts where the previous one's Content-Length and CRLF CRLF end)
    and gzip-per-record files (a record starts where a gzip member that holds exactly one
    whole record begins) are split. ARC files and whole-file gzip are not: the first has no
    record framing fastwarc reads, the second no place to enter the stream. A record that
    cannot be framed ends the search: the rest of the file is one part, and its reader reports
    the defect just as a reader of the whole file would. Reads the file once (decompressing a
    gzip file) in bounded memory; the stream is left at an undefined position.
    """
    points = [0]
    try:
        layout = _container_layout(stream)
        stream.seek(0)
        if layout == "plain":
            points.extend(_plain_record_starts(stream, split_bytes))
        elif layout == "gzip_per_record":
            points.extend(_gzip_record_starts(stream, split_bytes))
    except (OSError, ValueError, zlib.error):
        pass  # a defect: the points found before it stand
    return points


def _plain_record_starts(stream: BinaryIO, split_bytes: int) -> Iterator[int]:
    """The split points after 0 of a plain WARC file, walking from record to record."""
    window, window_at = b"", 0  # bytes of the file from offset window_at

    def peek(offset: int, size: int) -> bytes:
        nonlocal window, window_at
        if not (window_at <= offset and offset + size <= window_at + len(window)):
            stream.seek(offset)
            window, window_at = stream.read(max(size, WALK_READ_BYTES)), offset
        return window[offset - window_at : offset - window_at + size]

    position = last_point = 0
    while head := peek(position, HEADER_PROBE_BYTES):
        if not head.startswith(b"WARC/"):
            return
        end = _first_record_end(head) or _first_record_end(peek(position, MAX_HEADER_BYTES))
        if end is None:
            return
        if position - last_point >= split_bytes:
            yield position
            last_point = position
        if peek(position + end - 4, 4) != b"\r\n\r\n":
            return  # Content-Length disagrees with the block: a defect for the reader to report
        position += end


def _gzip_record_starts(stream: BinaryIO, split_bytes: int) -> Iterator[int]:
    """The split points after 0 of a gzip-per-record WARC file: members are found by
    decompressing each to its end, and a point is a member that holds one whole record."""
    member_at = last_point = 0  # offset of the member being decompressed
    head, size = b"", 0  # its first decompressed bytes and its decompressed size, where it is a candidate
    inflater = zlib.decompressobj(wbits=31)
    data, data_at = b"", 0  # compressed bytes not yet fed, and their offset
    while data or (data := stream.read(GZIP_READ_BYTES)):
        out = inflater.decompress(data, INFLATE_UNIT)
        candidate = member_at - last_point >= split_bytes
        if candidate:
            size += len(out)
            head += out[: MAX_HEADER_BYTES - len(head)]
        rest = inflater.unused_data if inflater.eof else inflater.unconsumed_tail
        data_at += len(data) - len(rest)
        data = rest
        if not inflater.eof:
            continue
        if candidate and head.startswith(b"WARC/") and _first_record_end(head) == size:
            yield member_at
            last_point = member_at
        member_at, head, size = data_at, b"", 0
        inflater = zlib.decompressobj(wbits=31)


class _Bounded:
    """A seekable stream that ends at offset `stop` (offsets and tell() are the file's)."""

    def __init__(self, raw: BinaryIO, stop: int):
        self._raw = raw
        self._stop = stop

    def read(self, size: int = -1) -> bytes:
        left = max(self._stop - self._raw.tell(), 0)
        return self._raw.read(left if size < 0 else min(size, left))

    def tell(self) -> int:
        return self._raw.tell()

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._raw.seek(offset, whence)

    def close(self) -> None:
        self._raw.close()


def _plain_head(head: bytes) -> bytes:
    """The decompressed start of `head` if it is the start of a gzip stream, else `head`."""
    if not head.startswith(GZIP_MAGIC):
        return head
    try:
        return zlib.decompressobj(wbits=31).decompress(head, 64)
    except zlib.error:
        return b""


def _container_layout(stream: BinaryIO) -> str:
    """ "arc", "plain", "gzip_per_record" or "gzip_whole_file"; `stream` is rewound after.

    Telling per-record from whole-file gzip needs the first gzip member decompressed up to
    the end of the first record: a per-record member stops there, a whole-file one goes on.
    """
    start = stream.tell()
    head = stream.read(SNIFF_BYTES)
    try:
        if _plain_head(head).startswith(b"filedesc://"):
            return "arc"
        if not head.startswith(GZIP_MAGIC):
            return "plain"
        # Only the first record's header is kept; the rest of the member is counted, not held.
        inflater = zlib.decompressobj(wbits=31)
        header, size, end = b"", 0, None  # decompressed: the first bytes, their count, the first record's end
        compressed = head
        while compressed:
            plain = inflater.decompress(compressed, INFLATE_UNIT)
            size += len(plain)
            if end is None:
                header += plain[: MAX_HEADER_BYTES - len(header)]
                end = _first_record_end(header)
                if end is None and len(header) == MAX_HEADER_BYTES:
                    break  # no header: the reader reports it
            if inflater.eof or (end is not None and size > end):
                break
            compressed = inflater.unconsumed_tail or stream.read(SNIFF_BYTES)
        whole_file = end is not None and size > end
        return "gzip_whole_file" if whole_file else "gzip_per_record"
    except zlib.error:  # a corrupt first member: the reader will report it at its position
        return "gzip_per_record"
    finally:
        stream.seek(start)


def _first_record_end(plain: bytes) -> int | None:
    """Offset just past the first record in decompressed WARC bytes (header, block and
    the CRLF CRLF that closes it); None while its header is incomplete or unparsable."""
    header_end = plain.find(b"\r\n\r\n")
    match = _CONTENT_LENGTH.search(plain, 0, max(header_end, 0))
    if header_end < 0 or match is None:
        return None
    return header_end + 4 + int(match.group(1)) + 4


class _WholeFileGzip:
    """The decompressed bytes of a gzip stream, as a readable stream.

    Unlike gzip.GzipFile, which raises on a stream cut short and so loses the records
    decompressed before the cut, it hands over all it could decompress and sets `truncated`.
    Corrupt data still raises zlib.error.
    """

    def __init__(self, raw: BinaryIO):
        self._raw = raw
        self._inflater = zlib.decompressobj(wbits=31)
        self._compressed = b""  # read from `raw`, not yet decompressed
        self._buffer = bytearray()
        self._in_member = False
        self._handed_out = 0
        self.truncated = False

    def tell(self) -> int:
        """Decompressed bytes handed out so far (fastwarc asks for it)."""
        return self._handed_out

    def close(self) -> None:
        self._raw.close()

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._buffer) < size:
            if not self._compressed:
                self._compressed = self._raw.read(SNIFF_BYTES)
                if not self._compressed:
                    self.truncated = self._in_member
                    break
            self._inflate_some()
        size = len(self._buffer) if size < 0 else min(size, len(self._buffer))
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        self._handed_out += size
        return data

    def _inflate_some(self) -> None:
        # At most INFLATE_UNIT bytes per call: a few KB of gzip can hold gigabytes.
        self._buffer += self._inflater.decompress(self._compressed, INFLATE_UNIT)
        self._in_member = not self._inflater.eof
        if self._in_member:
            self._compressed = self._inflater.unconsumed_tail
        else:
            self._compressed = self._inflater.unused_data  # a further member may follow
            self._inflater = zlib.decompressobj(wbits=31)


def _fastwarc_records(stream: BinaryIO | _WholeFileGzip, stream_detect: bool, max_bytes: int) -> Iterator[_Record]:
    # fastwarc's stub asks a Python stream for seek() too; ArchiveIterator only reads and tells (checked with
    # fastwarc 2.0.1), and _WholeFileGzip, a forward-only stream, has no seek().
    records = FastwarcIterator(stream, stream_detect=stream_detect)  # type: ignore[arg-type]
    for record in records:
        # Every block is read, also of records that will be skipped: only then does a file
        # cut short inside a request or metadata record show up as an error.
        payload, read, too_large = _read_payload(record.reader, record.content_length, max_bytes)
        http = record.http_headers if record.is_http else None
        yield _Record(
            type=str(record.record_type),
            position=record.stream_pos,
            url=record.headers.get("WARC-Target-URI"),
            content_type=(http.get("Content-Type") if http is not None else None)
            or record.headers.get("WARC-Identified-Payload-Type")
            or record.headers.get("Content-Type"),
            http_status=http.status_code if http is not None else None,
            transfer_encoding=(http.get("Transfer-Encoding") or "") if http is not None else "",
            content_encoding=(http.get("Content-Encoding") or "") if http is not None else "",
            payload=payload,
            # After parsing HTTP headers, content_length counts the payload only. A header
            # cut off at the end of the file parses too, but without its Content-Length.
            truncated=read < record.content_length or record.headers.get("Content-Length") is None,
            too_large=too_large,
        )


def _read_payload(reader, length: int, max_bytes: int) -> tuple[bytes, int, bool]:
    """(payload, bytes read, too large) of a record whose payload is `length` bytes long by its
    header. A payload over `max_bytes` is read through and dropped, keeping only an excerpt."""
    if length <= max_bytes:
        payload = reader.read()
        return payload, len(payload), False
    excerpt = reader.read(EXCERPT_BYTES)
    read = len(excerpt)
    while chunk := reader.read(PAYLOAD_READ_BYTES):
        read += len(chunk)
    return excerpt, read, True


def _warcio_records(stream: BinaryIO, max_bytes: int) -> Iterator[_Record]:
    """Records of a legacy ARC file, converted by warcio to their WARC equivalents."""
    records = WarcioIterator(stream, arc2warc=True)
    for record in records:
        http = record.http_headers
        status = http.get_statuscode() if http is not None else None
        # raw_stream is the payload as stored, so the one decoder below serves both readers.
        # It must be read before get_record_offset(), which skips to the record's end.
        payload, _, too_large = _read_payload(record.raw_stream, record.length, max_bytes)
        yield _Record(
            type=record.rec_type,
            position=records.get_record_offset(),
            url=record.rec_headers.get_header("WARC-Target-URI"),
            content_type=(http.get_header("Content-Type") if http is not None else None)
            or record.rec_headers.get_header("Content-Type"),
            http_status=int(status) if status and status.isdigit() else None,
            transfer_encoding=(http.get_header("Transfer-Encoding") or "") if http is not None else "",
            content_encoding=(http.get_header("Content-Encoding") or "") if http is not None else "",
            payload=payload,
            truncated=False,  # warcio raises on a short gzip member; caught by the caller
            too_large=too_large,
        )


def _to_item(record: _Record, source: str, path: str, compressed: bool, max_bytes: int) -> WarcItem:
    """Turn one framed record into a RawDocument, Skipped or ReadError."""
    position = record.position

    def skipped(reason: str) -> Skipped:
        return Skipped(source, path, position, reason)

    if record.truncated:
        return ReadError(
            source,
            path,
            position,
            "truncated_gzip" if compressed else "truncated_record",
            f"{record.type} record for {record.url} is cut short: header or block incomplete",
            record.payload[:EXCERPT_BYTES],
        )
    if record.type not in DOCUMENT_RECORD_TYPES:
        return skipped(f"record_type:{record.type}")
    url = _clean_url(record.url)
    if record.type == "resource" and url is not None and url.startswith("metadata:"):
        return skipped("crawler_metadata")  # wget stores its own log and arguments this way
    if record.http_status is not None and not 200 <= record.http_status < 300:
        return skipped(f"http_status:{record.http_status}")

    mime, charset = _parse_content_type(record.content_type)
    kind: str | None
    if record.type == "conversion":
        # WET conversion records are UTF-8 plain text by Common Crawl's format definition.
        kind, charset = "text", charset or "utf-8"
    else:
        kind = TEXT_KINDS.get(mime) if mime is not None else None
    if kind is None:
        return skipped(f"content_type:{mime or 'missing'}")

    def too_large(what: str) -> ReadError:
        return ReadError(
            source,
            path,
            position,
            "document_too_large",
            f"{record.type} record for {url}: {what} > read.max_document_bytes={max_bytes}",
            record.payload[:EXCERPT_BYTES],
        )

    if record.too_large:
        return too_large("payload as stored")
    try:
        data = _undo_http_codings(record.payload, record.transfer_encoding, record.content_encoding, max_bytes)
    except _OverBudget as exc:
        return too_large(str(exc))
    except (OSError, ValueError, zlib.error) as exc:
        return ReadError(
            source,
            path,
            position,
            "bad_http_encoding",
            f"cannot undo Transfer-Encoding {record.transfer_encoding!r} / Content-Encoding "
            f"{record.content_encoding!r} of {url}: {exc}",
            record.payload[:EXCERPT_BYTES],
        )
    if not data.strip():
        return skipped("empty_payload")
    return RawDocument(source, path, position, kind, data, url=url, declared_charset=charset, container="warc")


def _clean_url(url: str | None) -> str | None:
    """WARC-Target-URI without the <...> that wget 1.21 wraps around it."""
    if url is None:
        return None
    url = url.strip()
    if url.startswith("<") and url.endswith(">"):
        url = url[1:-1].strip()
    return url or None


def _parse_content_type(value: str | None) -> tuple[str | None, str | None]:
    """("text/html", "utf-8") from "text/html; charset=UTF-8"; None for what is absent."""
    if not value:
        return None, None
    mime, _, params = value.partition(";")
    charset = None
    for param in params.split(";"):
        name, _, param_value = param.partition("=")
        if name.strip().lower() == "charset":
            charset = param_value.strip().strip("'\"").lower() or None
    return mime.strip().lower() or None, charset


class _OverBudget(Exception):
    """A decoded payload would be larger than the document limit."""


def _undo_http_codings(payload: bytes, transfer_encoding: str, content_encoding: str, max_bytes: int) -> bytes:
    """The payload with chunked transfer coding and gzip/deflate/br content coding undone.

    Crawlers differ in what they store: some keep the bytes as sent, some decode but keep
    the header. A coding is therefore undone only where the bytes still carry it.
    Each decoding stops one byte past `max_bytes` (a few KB of gzip or brotli can hold
    gigabytes) and raises _OverBudget if it got there.
    Raises OSError, ValueError or zlib.error on a coding that is present but broken.
    """
    if "chunked" in transfer_encoding.lower() and _CHUNK_SIZE_LINE.match(payload):
        payload = ChunkedReader(io.BytesIO(payload)).read()  # never longer than its input
    for coding in reversed([c.strip().lower() for c in content_encoding.split(",") if c.strip()]):
        if coding in ("gzip", "x-gzip") and payload.startswith(GZIP_MAGIC):
            # decompressobj, not gzip.decompress: keep what a stream cut short still holds.
            payload = zlib.decompressobj(wbits=31).decompress(payload, max_bytes + 1)
        elif coding == "deflate":
            payload = _inflate(payload, max_bytes + 1)
        elif coding == "br":
            payload = BrotliReader(io.BytesIO(payload)).read(max_bytes + 1)
        else:
            continue
        if len(payload) > max_bytes:
            raise _OverBudget(f"Content-Encoding {coding} decodes to more than {max_bytes} bytes")
    return payload


def _inflate(payload: bytes, max_length: int) -> bytes:
    """HTTP "deflate": meant to be zlib-wrapped, often sent as a raw deflate stream."""
    try:
        return zlib.decompressobj(wbits=15).decompress(payload, max_length)
    except zlib.error:
        return zlib.decompressobj(wbits=-15).decompress(payload, max_length)


def _container_error(
    exc: BaseException, stream: BinaryIO, source: str, path: str, last_position: int, at_defect: bool = False
) -> ReadError:
    """A ReadError for a defect that stopped the reader after the record at `last_position`, or,
    with `at_defect`, at the gzip member that starts at `last_position`."""
    message = f"{type(exc).__name__}: {exc}"
    lowered = message.lower()
    if isinstance(exc, EOFError) or "end of file" in lowered or "ended before" in lowered:
        error = "truncated_gzip"
    elif "gzip" in lowered or isinstance(exc, zlib.error):
        error = "corrupt_gzip"
    # fastwarc says "Invalid WARC header" or "Maximum header length exceeded" of a header it cannot parse
    elif isinstance(exc, OSError) and "header" not in lowered:
        error = "read_failed"
    else:
        error = "malformed_warc"
    if at_defect:
        where = f"in the gzip member at byte {last_position}; read on from the next member that starts a record"
        return ReadError(source, path, last_position, error, f"{message} ({where})")
    position, excerpt = _bytes_after_record(stream, last_position)
    return ReadError(source, path, position, error, f"{message} (after the record at byte {last_position})", excerpt)


def _bytes_after_record(stream: BinaryIO, position: int) -> tuple[int, bytes]:
    """Where the record at `position` ends in a plain WARC file and the bytes found there.

    Used to show the bytes that failed to parse. For compressed files, or where the record
    header itself cannot be read back, it returns `position` and no excerpt.
    """
    try:
        stream.seek(position)
        head = stream.read(SNIFF_BYTES)
        end = _first_record_end(head) if head.startswith(b"WARC/") else None
        if end is None:
            return position, b""
        stream.seek(position + end)
        return position + end, stream.read(EXCERPT_BYTES)
    except (OSError, ValueError):
        return position, b""
