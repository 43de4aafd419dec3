"""Decontaminating a docs file: its documents checked against the index, written on without the
contaminated ones (drop) or without their matching runs (redact), each hit recorded.

    docs file --read once per index partition: every document's matches--> matches by row
        --the last read: verdict per document--> the docs file written again, contaminated rows
        dropped or redacted; one contaminated/ line per hit document; the items found

Prepare runs it inside the per-document stage, on each part's kept documents once the filters are
done (transforms/document_stage.py), and `textshards decontaminate` on each file of a docs/
directory (`DecontaminateFiles`): the text goes file -> worker -> file either way, and the same
documents and index give the same bytes whatever the partitions and the runner.

A redacted document is checked by nothing else: not by the filters again (a cut can leave a short
document that they would have dropped), and not against the index again (a cut leaves no run of a
matched item behind, and another item's run could only be made by joining the text across a cut,
which is no text of the corpus). A redaction that leaves no word drops the document.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import apache_beam as beam
from apache_beam.pvalue import TaggedOutput

from transforms.decontaminate.index import PARTITIONS, STATS_SOURCE, IndexPlan
from transforms.decontaminate.items import BenchmarkFile, benchmark_of, item_id
from transforms.decontaminate.matching import (
    Index,
    Match,
    find_matches,
    normalised_words,
    reported_ngrams,
    verdict,
    word_hashes,
    words_of,
)
from transforms.decontaminate.settings import DecontaminateConfig
from transforms.parts import JsonlPartWriter, ParquetPartWriter, PartFile, read_part
from transforms.stats import CountingDoFn
from transforms.writers import DOCS_SCHEMA

CONTAMINATED_TAG = "contaminated"  # PartFiles of contaminated/ lines
FOUND_TAG = "found_items"  # (benchmark, item id) of each item found in a document
REASON = "contaminated"  # dropped.contaminated, changed.contaminated
# prepare's counts of what decontamination leaves: its step of the funnel (transforms/stats.FUNNEL).
FUNNEL_COUNTS = ("documents_after_decontaminate", "bytes_after_decontaminate")
REPORT_FIELDS = (
    "items",
    "items_short",
    "items_skipped",
    "items_unreadable",
    "files_unreadable",
    "items_found",
    "documents_hit",
    "words_removed",
)

Count = Callable[[str, str, int], None]  # (source, counter, n), as CountingDoFn.count


class Decontamination(NamedTuple):
    """What checking documents needs besides the index: the settings, and the benchmark files
    that item references point into."""

    config: DecontaminateConfig
    files: list[BenchmarkFile]


class FileResult(NamedTuple):
    docs: PartFile | None  # the documents written on; None where none is left (and no empty file was asked for)
    contaminated: PartFile | None  # the contaminated/ lines of the file's hit documents
    found: set[tuple[str, str]]  # (benchmark, item id) of every item found


class Decontaminator:
    """Checks docs files against the index, one partition of it at a time (index.PARTITIONS)."""

    def __init__(self, decontamination: Decontamination):
        self._config = decontamination.config
        self._files = decontamination.files

    def docs_file(
        self,
        plan: IndexPlan,
        source: str,
        target: str,
        contaminated_path: str,
        count: Count,
        count_documents: bool = False,
        empty_file: bool = False,
    ) -> FileResult:
        """Reads the docs file `source` once per partition of the index, and writes its documents
        to `target`, the contaminated lines to `contaminated_path`; counts `dropped.contaminated`
        or `changed.contaminated` per source, documents_hit and words_removed per benchmark, and
        with `count_documents`, documents_read/bytes_read and documents_out/bytes_out per source."""
        matches: dict[int, list[Match]] = {}
        docs = ParquetPartWriter(target, DOCS_SCHEMA)
        contaminated = JsonlPartWriter(contaminated_path)
        found: set[tuple[str, str]] = set()
        order: list[int | None] = [*PARTITIONS.order(plan)] or [None]  # an empty index: one read
        for turn, partition in enumerate(order):
            index = Index.empty() if partition is None else PARTITIONS.get(plan, partition)
            last = turn == len(order) - 1
            for first, table in read_part(source, None if last else ["text"]):
                rows = table.select(DOCS_SCHEMA.names).to_pylist() if last else []
                for i, text in enumerate(table.column("text").to_pylist()):
                    found_here = find_matches(word_hashes(words_of(text)), index, plan.lengths)
                    if found_here:
                        matches.setdefault(first + i, []).extend(found_here)
                    if not last:
                        continue
                    row = rows[i]
                    if count_documents:
                        count(row["source"], "documents_read", 1)
                        count(row["source"], "bytes_read", _size(text))
                    row_matches = matches.pop(first + i, [])
                    source = row["source"]
                    if row_matches:
                        row = self._hit(row, row_matches, contaminated, found, count)
                    # The funnel's counts: prepare's step after the filters, or this step's output.
                    documents, nbytes = ("documents_out", "bytes_out") if count_documents else FUNNEL_COUNTS
                    # Counted at 0 too, so a source whose every document was dropped still has the step.
                    count(source, documents, int(row is not None))
                    count(source, nbytes, 0 if row is None else _size(row["text"]))
                    if row is not None:
                        docs.append(row)
        return FileResult(docs.close(empty_file), contaminated.close(), found)

    def _hit(self, row: dict, row_matches: list[Match], contaminated, found, count: Count) -> dict | None:
        """A hit document's contaminated/ line and counts; the row to write on (redacted), or None (dropped)."""
        words = normalised_words(row["text"])  # with their offsets: only the documents hit need them
        result = verdict(row["text"], words, row_matches, self._config.mode)
        refs = sorted({match.item for match in row_matches})
        benchmarks = sorted({benchmark_of(self._files, ref) for ref in refs})
        contaminated.append(
            {
                "id": row["id"],
                "source": row["source"],
                "benchmark": ",".join(benchmarks),
                "items": [item_id(self._files, ref) for ref in refs],
                "ngrams": reported_ngrams(words, row_matches),
                "action": result.action,
            }
        )
        found.update((benchmark_of(self._files, ref), item_id(self._files, ref)) for ref in refs)
        count(row["source"], f"{'dropped' if result.action == 'drop' else 'changed'}.{REASON}", 1)
        for benchmark in benchmarks:
            count(STATS_SOURCE, f"{benchmark}.documents_hit", 1)
            count(STATS_SOURCE, f"{benchmark}.words_removed", result.words_removed)
        return {**row, "text": result.text} if result.action == "redact" else None


def _size(text: str) -> int:
    return len(text.encode("utf-8"))


class DecontaminateFiles(CountingDoFn):
    """A docs file's path -> its documents decontaminated into {directory}/docs/ under the same
    name; its contaminated/ lines' PartFile on CONTAMINATED_TAG, the items found on FOUND_TAG,
    counts on the stats output. The index plan is the side input `plan`."""

    def __init__(self, decontamination: Decontamination, directory: str, parts_dir: str):
        self._decontamination = decontamination
        self._directory = directory
        self._parts_dir = parts_dir

    def setup(self):
        self._decontaminator = Decontaminator(self._decontamination)

    def process(self, path: str, plan: IndexPlan):
        name = path.rstrip("/").rpartition("/")[2]
        result = self._decontaminator.docs_file(
            plan,
            path,
            f"{self._directory}/docs/{name}",
            f"{self._parts_dir}/contaminated/{name.removesuffix('.parquet')}.jsonl",
            self.count,
            count_documents=True,
            empty_file=True,  # a file whose every document was dropped stays: the layout is prepare's
        )
        if result.contaminated is not None:
            yield TaggedOutput(CONTAMINATED_TAG, result.contaminated._replace(order=(name,)))
        for pair in sorted(result.found):
            yield TaggedOutput(FOUND_TAG, pair)


class CountFoundItems(beam.PTransform):
    """(benchmark, item id) of every item found, per document -> ((STATS_SOURCE, "B.items_found"), n):
    each item counted once, however many documents hold it."""

    def expand(self, found):
        return (
            found
            | "Distinct items found" >> beam.Distinct()
            | "Count an item found" >> beam.Map(lambda pair: ((STATS_SOURCE, f"{pair[0]}.items_found"), 1))
        )


def decontamination_report(
    stats_report: dict, benchmarks: list[str], unreadable_files: list[tuple[str, dict]] | None = None
) -> dict:
    """decontamination.json from stats.json's report: per benchmark, its items (of which short:
    under min_item_words; skipped: under 3 words, not indexed; unreadable: records that are no
    object or hold no text), the files that broke off while read, the items found in the corpus,
    the documents hit and the words removed; with `unreadable_files` (index.UNREADABLE_TAG's
    pairs), each benchmark's list of them, path and reason, in path order."""
    counts = stats_report["stages"].get("decontaminate", {})
    report = {name: {field: counts.get(name, {}).get(field, 0) for field in REPORT_FIELDS} for name in benchmarks}
    if unreadable_files is not None:
        for name in benchmarks:
            files = [file for benchmark, file in unreadable_files if benchmark == name]
            report[name]["unreadable_files"] = sorted(files, key=lambda file: file["path"])
    return report
