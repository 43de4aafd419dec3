"""The per-document stage of prepare: one part of the input in, part files out.

    InputParts --FindRepeatedIds (their records' own ids, hashed; no text)--> repeated positions by part
    InputPart (a batch of small files, or a range of a large one) + its repeated positions
        --read--> raw documents
        --clean--> --filter--> kept rows     --> parts/docs/NAME.parquet
                       |   +--> dropped rows --> parts/rejected/NAME.parquet (filters.write_rejected)
                       +-------> failures, read errors --> parts/dead_letter/NAME.jsonl
    and on the stats output, every count of reading, cleaning and filtering.

With benchmarks to decontaminate against, the kept rows go to parts/filtered/NAME.parquet instead,
and once the part is read, that file is checked against the benchmarks' index and written on to
parts/docs/NAME.parquet, less the contaminated documents or their matching runs, with their
records in parts/contaminated/NAME.jsonl (transforms/decontaminate/stage.py).

A part's documents never leave the worker that reads them: the DoFn streams them from the input
file through cleaning and filtering into its part files (transforms/parts.py) and emits only
references to those files. Memory per worker is therefore one document and a row group, whatever
the size of the part or of the corpus.

`clean_document` and `filter_document` are the stages as pure functions; this module only runs
them in order, counts and routes.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Iterable, Iterator, Mapping, NamedTuple

import apache_beam as beam
import xxhash
from apache_beam.io.filesystems import FileSystems
from apache_beam.pvalue import TaggedOutput
from apache_beam.transforms.window import GlobalWindows

from transforms.clean import CleanConfig, Dropped, clean_document, clean_failure
from transforms.decontaminate.index import IndexPlan
from transforms.decontaminate.stage import CONTAMINATED_TAG, FOUND_TAG, Decontamination, Decontaminator
from transforms.dedup.entries import by_shard
from transforms.filters.stage import FiltersConfig, Steps, filter_document, filter_failure, rejected_row
from transforms.parts import JsonlPartWriter, ParquetPartWriter, PartFile
from transforms.progress import ProgressReport
from transforms.readers import (
    FileRange,
    InputSpec,
    ReadConfig,
    ReadItem,
    read_range,
    record_ids,
    size_error,
    split_file,
)
from transforms.records import RawDocument, ReadError, document_from_record
from transforms.repeated_ids import id_entries, positions_by_file, repeats_by_part, unpack
from transforms.stats import CountingDoFn
from transforms.warc import Skipped
from transforms.writers import DOCS_SCHEMA, REJECTED_SCHEMA

# A part holds at most this many files: its reference stays small (a few KB), and many small
# files spread over several workers.
MAX_FILES_PER_PART = 16
# A corpus smaller than MIN_PARTS times read.split_bytes is cut into MIN_PARTS parts of equal size
# rather than a few full ones and a short one: every core of a small machine then has work until
# the end (the DirectRunner hands parts to its workers in turn: 5 parts of 10 MB on 2 workers took
# as long as 30 MB). Parts stay at least MIN_PART_BYTES: each has its own files and entries.
MIN_PARTS = 8
MIN_PART_BYTES = 4 * 1024 * 1024
# The outputs of ProcessParts besides the kept documents' parts (its main output).
REJECTED_TAG = "rejected"
DEAD_LETTER_PARTS_TAG = "dead_letter"
# A worker reading record ids packs its entries every this many records (36 bytes each).
_PACK_RECORDS = 65_536
# FindRepeatedIds' pass over the input: the name of its progress reports and metrics.
IDS_PASS = "record_ids"


class InputPart(NamedTuple):
    """What one worker reads: files, or a range of one file, of one input, in order."""

    spec: InputSpec
    ranges: tuple[FileRange, ...]
    stored_bytes: int = 0  # its share of the input's bytes as stored, for progress lines only

    def name(self) -> str:
        """A name for its part files: the same input part always gets the same name, wherever its
        files are read from."""
        return xxhash.xxh3_64_hexdigest("\0".join(map(str, self.order())).encode())

    def key(self) -> int:
        """Its name as a number: what its repeated ids are grouped with it by."""
        return int(self.name(), 16)

    def order(self) -> tuple:
        """Where its documents belong in the output: by source, file (its path below the input's
        root, so the order is the same under any root), then position."""
        first = self.ranges[0]
        return (self.spec.name, self.spec.relative_path(first.path), first.start)


def balanced_part_bytes(total_bytes: int, split_bytes: int) -> int:
    """The size of prepare's input parts for a corpus of `total_bytes`: read.split_bytes, or less
    where that would make fewer than MIN_PARTS parts."""
    return max(min(split_bytes, MIN_PART_BYTES), min(split_bytes, math.ceil(total_bytes / MIN_PARTS)))


def plan_input_parts(spec: InputSpec, files: list[tuple[str, int]], part_bytes: int) -> list[InputPart]:
    """The input parts of one input's matched (path, size) files, in path order: runs of
    consecutive files of up to `part_bytes` (and MAX_FILES_PER_PART files) together, and every
    larger file alone (split_large_part cuts it into ranges where it can)."""
    parts: list[InputPart] = []
    batch: list[FileRange] = []
    filled = 0
    for path, size in sorted(files):
        if batch and (filled + size > part_bytes or len(batch) == MAX_FILES_PER_PART):
            parts.append(InputPart(spec, tuple(batch), filled))
            batch, filled = [], 0
        batch.append(FileRange(path))
        filled += size
    if batch:
        parts.append(InputPart(spec, tuple(batch), filled))
    return parts


class FindRepeatedIds(beam.PTransform):
    """InputParts in; (part key, packed ID_ENTRY entries of its records whose own id an earlier
    record of their file had) out, for the parts that hold some (transforms/repeated_ids.py).
    Only 36-byte entries cross the shuffle; `shard_bits` sets how many groups share them out.
    The files and bytes read go on `progress`: this pass reads the input before the main one."""

    def __init__(self, read: ReadConfig, shard_bits: int, progress: ProgressReport):
        super().__init__()
        self._read = read
        self._shard_bits = shard_bits
        self._progress = progress

    def expand(self, parts):
        return (
            parts
            | "Read record ids" >> beam.FlatMap(id_entries_by_shard, self._read, self._shard_bits, self._progress)
            | "Group ids by shard" >> beam.GroupByKey()
            | "Repeats by part" >> beam.FlatMap(lambda shard: repeats_by_part(unpack(shard[1])))
        )


def id_entries_by_shard(
    part: InputPart, read: ReadConfig, shard_bits: int, progress: ProgressReport
) -> Iterator[tuple[int, bytes]]:
    """(shard, packed entries) of the records of `part` whose own ids are checked for repeats
    (readers.record_ids), every _PACK_RECORDS records; `part` read, on `progress`, a range at a time."""
    reading = progress.piece(part.stored_bytes, files=sum(piece.start == 0 for piece in part.ranges))
    for file, piece in enumerate(part.ranges):
        ids = record_ids(part.spec, piece, read)
        path = part.spec.relative_path(piece.path)
        while batch := [pair for _, pair in zip(range(_PACK_RECORDS), ids)]:
            yield from by_shard(id_entries(part.spec.name, path, batch, part.key(), file), shard_bits)
        reading.advance(file + 1, len(part.ranges))
    reading.done()


def repeated_positions(blobs: Iterable[bytes]) -> dict[int, frozenset[int]]:
    """{index of a file in its part: positions of its records that repeat an id} from FindRepeatedIds' entries."""
    return positions_by_file(unpack(blobs))


class PartWriters(NamedTuple):
    """The three files one part's documents go to."""

    docs: ParquetPartWriter
    rejected: ParquetPartWriter
    dead_letters: JsonlPartWriter


def split_large_part(part: InputPart, config: ReadConfig) -> list[InputPart]:
    """A part of one file as one part per range of it (readers.split_file), each with an even
    share of the file's bytes; other parts as they are."""
    if len(part.ranges) > 1:
        return [part]
    pieces = split_file(part.spec, part.ranges[0].path, config)
    shares = [
        part.stored_bytes * (i + 1) // len(pieces) - part.stored_bytes * i // len(pieces) for i in range(len(pieces))
    ]
    return [InputPart(part.spec, (piece,), share) for piece, share in zip(pieces, shares)]


class CleanAndFilter(CountingDoFn):
    """The per-document work that ProcessParts and ProcessDocuments share: each document cleaned,
    filtered and appended to one of a part's three files, every step counted."""

    progress_label = "documents"

    def __init__(
        self,
        read: ReadConfig,
        clean: CleanConfig,
        filters: FiltersConfig,
        parts_dir: str,
        decontamination: Decontamination | None = None,
    ):
        self._read = read
        self._clean = clean
        self._filters = filters
        self._parts_dir = parts_dir
        self._decontamination = decontamination
        self._index_plan: IndexPlan | None = None  # the side input `index_plan`, where decontaminating

    def setup(self):
        super().setup()
        self._steps = Steps(self._filters)
        self._steps.build_all()  # the language model is loaded before the first document
        self._decontaminator = Decontaminator(self._decontamination) if self._decontamination else None

    def _open_part(self, name: str) -> PartWriters:
        kept = "filtered" if self._decontamination else "docs"  # decontaminated into docs/ when the part is read
        return PartWriters(
            ParquetPartWriter(f"{self._parts_dir}/{kept}/{name}.parquet", DOCS_SCHEMA),
            ParquetPartWriter(f"{self._parts_dir}/rejected/{name}.parquet", REJECTED_SCHEMA),
            JsonlPartWriter(f"{self._parts_dir}/dead_letter/{name}.jsonl"),
        )

    def _add(self, item: ReadItem, part: PartWriters) -> int:
        """Counts, cleans, filters and writes one item read; returns its bytes if it is a document."""
        if isinstance(item, Skipped):
            self.count(item.source, f"skipped.{item.reason}")
        elif isinstance(item, ReadError):
            self._dead_letter(item, part.dead_letters)
        else:
            size = item.size_bytes()
            self._process_document(item, size, part.docs, part.rejected, part.dead_letters)
            return size
        return 0

    def _close_part(self, part: PartWriters, order: tuple) -> Iterator[PartFile | TaggedOutput]:
        """The PartFile of each of the part's files that holds a row: kept documents on the main
        output, rejected ones and dead letters on theirs; where decontaminating, the kept documents
        are those left by decontamination, and its records and found items go on theirs."""
        for tag, writer in (
            (None, part.docs),
            (REJECTED_TAG, part.rejected),
            (DEAD_LETTER_PARTS_TAG, part.dead_letters),
        ):
            written = writer.close()
            if written is not None and tag is None and self._decontaminator is not None:
                yield from self._decontaminate(written.path, order)
            elif written is not None:
                written = written._replace(order=order)
                yield written if tag is None else TaggedOutput(tag, written)

    def _decontaminate(self, filtered: str, order: tuple) -> Iterator[PartFile | TaggedOutput]:
        assert self._decontaminator is not None and self._index_plan is not None
        name = filtered.rpartition("/")[2].removesuffix(".parquet")
        result = self._decontaminator.docs_file(
            self._index_plan,
            filtered,
            f"{self._parts_dir}/docs/{name}.parquet",
            f"{self._parts_dir}/contaminated/{name}.jsonl",
            self.count,
        )
        FileSystems.delete([filtered])
        if result.docs is not None:
            yield result.docs._replace(order=order)
        if result.contaminated is not None:
            yield TaggedOutput(CONTAMINATED_TAG, result.contaminated._replace(order=order))
        for found in sorted(result.found):
            yield TaggedOutput(FOUND_TAG, found)

    def _dead_letter(self, error: ReadError, dead_letters: JsonlPartWriter) -> None:
        self.count(error.source, f"dead_letter.{error.error}")
        dead_letters.append(error.to_json_dict())

    def _process_document(
        self,
        doc: RawDocument,
        size: int,
        docs: ParquetPartWriter,
        rejected: ParquetPartWriter,
        dead_letters: JsonlPartWriter,
    ) -> None:
        source = doc.source
        self.count(source, "documents_read")
        self.count(source, "bytes_read", size)
        try:
            removed: Counter[str] = Counter()
            cleaned = clean_document(doc, self._clean, removed)
        except Exception as err:  # a defect in one document must not end the job
            self._dead_letter(clean_failure(doc, err), dead_letters)
            return
        for what, n in sorted(removed.items()):
            self.count(source, f"{what}_removed", n)
        if isinstance(cleaned, Dropped):
            self.count(source, f"dropped.{cleaned.reason}")
            return
        self.count(source, "documents_after_clean")
        self.count(source, "bytes_after_clean", len(cleaned["text"].encode("utf-8")))
        try:
            result = filter_document(cleaned, self._steps.for_row(cleaned))
        except Exception as err:  # likewise
            self._dead_letter(filter_failure(cleaned, err), dead_letters)
            return
        for counter, n in sorted(result.counts.items()):
            self.count(source, counter, n)
        if result.row is None:
            self.count(source, f"dropped.{result.reason}")
            if self._filters.write_rejected:
                rejected.append(rejected_row(cleaned, result))
            return
        self.count(source, "documents_after_filter")
        self.count(source, "bytes_after_filter", len(result.row["text"].encode("utf-8")))
        docs.append(result.row)


class ProcessParts(CleanAndFilter):
    """(part key, {"part": [InputPart], "repeated": FindRepeatedIds' entries of it}) -> PartFile
    of its kept documents (main output), of its rejected documents (REJECTED_TAG) and of its dead
    letters (DEAD_LETTER_PARTS_TAG); counts on the stats output, and the files and bytes read on
    `progress`."""

    def __init__(
        self,
        read: ReadConfig,
        clean: CleanConfig,
        filters: FiltersConfig,
        parts_dir: str,
        progress: ProgressReport,
        decontamination: Decontamination | None = None,
    ):
        super().__init__(read, clean, filters, parts_dir, decontamination)
        self._progress = progress

    def process(self, part_and_repeats: tuple[int, Mapping[str, Iterable]], index_plan: IndexPlan | None = None):
        self._index_plan = index_plan
        _, joined = part_and_repeats
        (part,) = joined["part"]
        repeated = repeated_positions(joined["repeated"])
        writers = self._open_part(part.name())
        # A file read in several ranges counts once, with its first.
        reading = self._progress.piece(part.stored_bytes, files=sum(piece.start == 0 for piece in part.ranges))
        documents_bytes = 0  # stand in for the bytes as stored read so far, until the part is done
        for file, piece in enumerate(part.ranges):
            if piece.start == 0:
                self.count(part.spec.name, "files")
            for item in read_range(part.spec, piece, self._read, repeated.get(file, frozenset())):
                documents_bytes += self._add(item, writers)
                reading.advance(documents_bytes, part.stored_bytes)
        reading.done()
        yield from self._close_part(writers, part.order())


class ProcessDocuments(CleanAndFilter):
    """Document records (see `document_from_record`) -> the PartFiles of each bundle's kept,
    rejected and dead-letter documents, as ProcessParts gives them for a part of the input.

    A bundle's documents go to one part, named after its first document's id (ids are unique,
    so a name is never reused within a run) and ordered by it in the output."""

    def start_bundle(self):
        super().start_bundle()
        self._part: PartWriters | None = None
        self._first_id = ""

    def process(self, record: Mapping, index_plan: IndexPlan | None = None):
        self._index_plan = index_plan  # kept for finish_bundle, which has no side inputs
        item = document_from_record(record)
        if isinstance(item, RawDocument):
            item = size_error(item, self._read.max_document_bytes) or item
        if self._part is None:
            self._first_id = item.path  # a record's id, or where its dead letter says it was
            self._part = self._open_part(xxhash.xxh3_64_hexdigest(f"record\0{self._first_id}".encode()))
        self._add(item, self._part)

    def finish_bundle(self):
        if self._part is not None:
            for written in self._close_part(self._part, (self._first_id,)):
                if isinstance(written, TaggedOutput):
                    yield TaggedOutput(written.tag, GlobalWindows.windowed_value(written.value))
                else:
                    yield GlobalWindows.windowed_value(written)
            self._part = None
        yield from super().finish_bundle()
