"""`textshards prepare`: raw files in, clean documents as Parquet out.

    inputs --match, plan parts--> input parts (file references)
        --their records' own ids, hashed (read.id_field)--> the positions of repeated ids, by part
    input parts + repeated positions --group by part; read, clean, filter (transforms/document_stage.py)-->
        part files: docs, rejected, dead letters
    docs parts --Deduplicate (nodes, keys, signatures, edges; texts read back by part)--> removed rows
    docs parts + removed rows --WriteParts--> docs/*.parquet
    (with decontaminate.benchmarks: their n-gram index built first, and each part's kept documents
    checked against it in the per-document stage; contaminated/*.jsonl, decontamination.json)
    rejected parts --WriteParts--> rejected/*.parquet (optional);  dead-letter parts --> dead_letter/*.jsonl
    counts of every step --> stats.json, report.png;  Deduplicate also writes duplicates/*.jsonl

PrepareFiles starts from config.inputs (the first line above); Prepare starts from a PCollection
of documents (a Beam pipeline of one's own), which ProcessDocuments writes to part files per
bundle. From the part files on, both are the same steps (`_deduplicate_and_write`).

Text never crosses a shuffle: it moves input file -> worker -> part file -> worker -> output
file, and only references, ids, keys, signatures, edges and counts are grouped (docs/memory.md).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import time
from typing import TYPE_CHECKING, NamedTuple

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from pipeline import fingerprint
from pipeline.beam_runner import check_workers_can_reach, in_one_process, run_pipeline
from pipeline.report import funnel_png
from transforms import outputs
from transforms.decontaminate.index import BuildIndex, IndexResult
from transforms.decontaminate.items import benchmark_files
from transforms.decontaminate.stage import (
    CONTAMINATED_TAG,
    FOUND_TAG,
    CountFoundItems,
    Decontamination,
    decontamination_report,
)
from transforms.dedup.deduplicate import Deduplicate
from transforms.dedup.entries import SHARD_TEXT_BYTES, shard_bits
from transforms.document_stage import (
    DEAD_LETTER_PARTS_TAG,
    IDS_PASS,
    REJECTED_TAG,
    FindRepeatedIds,
    InputPart,
    ProcessDocuments,
    ProcessParts,
    balanced_part_bytes,
    plan_input_parts,
    split_large_part,
)
from transforms.parts import WriteParts
from transforms.progress import Progress, ProgressMonitor, ProgressReport, progress_directory
from transforms.readers import InputSpec, has_own_ids
from transforms.settings import ConfigError, OperatorError
from transforms.stats import STATS_TAG, stats_to_report
from transforms.writers import DOCS_SCHEMA, REJECTED_SCHEMA, write_file_atomically

if TYPE_CHECKING:  # the workers, which import this module for its functions, need no run config
    from pipeline.config import Config

DEAD_LETTER_TARGET_BYTES = 64 * 1024 * 1024
PARTS_DIR = "parts"  # the per-document stage's part files (transforms/parts.py), removed when done
CONTAMINATED_DIR = "contaminated"
DECONTAMINATION_REPORT = "decontamination.json"
# Every output of the per-document stage besides the kept documents' parts ("docs").
PER_DOCUMENT_OUTPUTS = (STATS_TAG, REJECTED_TAG, DEAD_LETTER_PARTS_TAG, CONTAMINATED_TAG, FOUND_TAG)


def match_input(spec: InputSpec, part_bytes: int) -> list[InputPart]:
    """The input parts of every file the input names (its glob's matches, or the files below its
    directory), in path order."""
    files = [(m.path, m.size_in_bytes) for m in spec.matched_files()]
    return plan_input_parts(spec, files, part_bytes)


def input_total(config: Config) -> Progress:
    """The files every input matches and their bytes as stored: what prepare reads."""
    parts = [part for spec in config.inputs for part in match_input(spec, config.read.split_bytes)]
    return Progress(sum(len(part.ranges) for part in parts), sum(part.stored_bytes for part in parts))


def one_input_part(config: Config, input_bytes: int) -> bool:
    """Whether the per-document stage gets a single input part, which one worker reads, cleans and
    filters while any other would wait: the inputs plan one part, too small to be cut into ranges
    (readers.split_file), and there is no benchmark index to build besides."""
    part_bytes = balanced_part_bytes(input_bytes, config.read.split_bytes)
    if config.decontaminate.benchmarks or input_bytes > part_bytes:  # more than one part: no second listing
        return False
    parts = [part for spec in config.inputs for part in match_input(spec, part_bytes)]
    return len(parts) == 1 and parts[0].stored_bytes <= part_bytes


def check_inputs_match(config: Config) -> None:
    """Fails before any work when a glob matches nothing (almost always a typo)."""
    for i, spec in enumerate(config.inputs):
        if spec.kind == "hf":  # raises ConfigError itself, saying why
            if not spec.matched_files():
                raise ConfigError(f"inputs[{i}].glob: the dataset {spec.glob!r} has no data file")
            continue
        try:
            found = spec.matched_files(limit=1)
        except Exception as err:  # Beam raises BeamIOError with the filesystem's reason
            raise ConfigError(f"inputs[{i}].glob: {spec.glob!r} cannot be listed: {err}") from None
        if not found:
            raise ConfigError(f"inputs[{i}].glob: {spec.glob!r} matches no file")


def check_documents_written(report: dict, allow_empty: bool) -> None:
    """Fails a run that leaves no document in docs/ (no file readable, or every document dropped)
    unless write.allow_empty says that is expected: nothing is committed, so no _SUCCESS."""
    totals = report["totals"]
    if totals.get("documents_out", 0) or allow_empty:
        return
    dead, dropped = (sum(totals.get(group, {}).values()) for group in ("dead_letter", "dropped"))
    raise OperatorError(
        f"prepare: no document to write ({totals.get('files', 0)} files, {totals.get('documents_read', 0)} "
        f"documents read, {dead} dead letters, {dropped} dropped): check the inputs and filters, or allow "
        "an empty output with write.allow_empty (--allow-empty)"
    )


class Prepare(beam.PTransform):
    """The prepare stage on a PCollection of documents, for composing into a Beam pipeline of one's own.

    Each document is a record {"id", "source", "text"} (plus "url", "kind": "text" or "html";
    transforms/records.py's `document_from_record`), with ids unique across the collection. It is
    cleaned, filtered and deduplicated as `textshards prepare` does a file's documents, and
    `directory` gets what prepare's output holds but report.png and _SUCCESS: docs/, rejected/
    (with config.filters.write_rejected), duplicates/, dead_letter/, contaminated/ and
    decontamination.json (with config.decontaminate.benchmarks) and, written last, stats.json.
    Returns the stats report (one dict). config.inputs is not read. The documents of one bundle go
    to the same part, which sets their place in docs/: the same collection gives the same
    documents, in an order that can differ from runner to runner.
    """

    def __init__(self, config: Config, directory: str):
        super().__init__()
        self._config = config
        self._directory = directory

    def expand(self, documents):
        config, directory = self._config, self._directory
        index = decontamination_index(documents.pipeline, config, directory)
        processed = documents | "Clean and filter" >> beam.ParDo(
            ProcessDocuments(
                config.read, config.clean, config.filters, outputs.join(directory, PARTS_DIR), index.decontamination
            ),
            **index.side_inputs(),
        ).with_outputs(*PER_DOCUMENT_OUTPUTS, main="docs")
        return _deduplicate_and_write(processed, config, directory, index)


class DecontaminationIndex(NamedTuple):
    """The benchmarks' index as the per-document stage needs it; both None without benchmarks."""

    decontamination: Decontamination | None
    built: IndexResult | None

    def side_inputs(self) -> dict:
        return {"index_plan": beam.pvalue.AsSingleton(self.built.plan)} if self.built else {}

    def benchmarks(self) -> list[str] | None:
        return [b.name for b in self.decontamination.config.benchmarks] if self.decontamination else None

    def report_side_inputs(self) -> dict:
        """write_stats' side inputs: the benchmark files that broke off while indexed."""
        return {"unreadable_files": beam.pvalue.AsList(self.built.unreadable_files)} if self.built else {}


def decontamination_index(pipeline: beam.Pipeline, config: Config, directory: str) -> DecontaminationIndex:
    """The index of config.decontaminate's benchmarks, built into the run's part files; raises
    ConfigError where a benchmark's path matches no file."""
    if not config.decontaminate.benchmarks:
        return DecontaminationIndex(None, None)
    files = benchmark_files(config.decontaminate.benchmarks)
    built = pipeline | "Index benchmarks" >> BuildIndex(
        config.decontaminate, files, outputs.join(directory, PARTS_DIR, "index")
    )
    return DecontaminationIndex(Decontamination(config.decontaminate, files), built)


class PrepareFiles(Prepare):
    """Prepare on the files of config.inputs instead of a PCollection: applied to the pipeline
    (pbegin), it reads them, and then does what Prepare does. `input_bytes`, the inputs' size
    where the caller has listed them already, sizes the input parts (listed here otherwise)."""

    def __init__(self, config: Config, directory: str, input_bytes: int | None = None):
        super().__init__(config, directory)
        self._input_bytes = input_total(config).bytes if input_bytes is None else input_bytes

    def expand(self, pbegin):
        config, directory = self._config, self._directory
        read = dataclasses.replace(
            config.read, split_bytes=balanced_part_bytes(self._input_bytes, config.read.split_bytes)
        )
        index = decontamination_index(pbegin.pipeline, config, directory)
        parts = (
            pbegin
            | "Inputs" >> beam.Create(config.inputs)
            | "Match files" >> beam.FlatMap(match_input, read.split_bytes)
            | "Spread files" >> beam.Reshuffle()
            | "Split large files" >> beam.FlatMap(split_large_part, read)
            | "Spread parts" >> beam.Reshuffle()
        )
        # A file's ranges are read by several workers: the records that repeat an id of their
        # file are found first, across its ranges, and each part is read with its own.
        repeated = parts | "Find repeated ids" >> FindRepeatedIds(
            read,
            shard_bits(self._input_bytes, SHARD_TEXT_BYTES),
            ProgressReport(progress_directory(directory, IDS_PASS), IDS_PASS),
        )
        processed = (
            {"part": parts | "Key parts" >> beam.Map(lambda part: (part.key(), part)), "repeated": repeated}
            | "Parts with their repeated ids" >> beam.CoGroupByKey()
            | "Read, clean and filter"
            >> beam.ParDo(
                ProcessParts(
                    read,
                    config.clean,
                    config.filters,
                    outputs.join(directory, PARTS_DIR),
                    ProgressReport(progress_directory(directory)),
                    index.decontamination,
                ),
                **index.side_inputs(),
            ).with_outputs(*PER_DOCUMENT_OUTPUTS, main="docs")
        )
        return _deduplicate_and_write(processed, config, directory, index)


def _deduplicate_and_write(processed, config: Config, directory: str, index: DecontaminationIndex) -> beam.PCollection:
    """The part files of the per-document stage in; dedup, docs/, rejected/, dead_letter/,
    contaminated/ and stats.json (and decontamination.json) written under `directory`, the part
    files removed; returns the stats report."""
    deduplicated = processed.docs | "Deduplicate" >> Deduplicate(config.dedup, directory)
    written = processed.docs | "Write docs" >> WriteParts(
        outputs.join(directory, "docs"),
        "parquet",
        config.write.shard_target_bytes,
        DOCS_SCHEMA,
        removed=deduplicated.removed,
        count_output=True,
    )
    rejected_written = processed[REJECTED_TAG] | "Write rejected" >> WriteParts(
        outputs.join(directory, "rejected"), "parquet", config.write.shard_target_bytes, REJECTED_SCHEMA
    )
    dead_letters_written = processed[DEAD_LETTER_PARTS_TAG] | "Write dead letters" >> WriteParts(
        outputs.join(directory, "dead_letter"), "jsonl", DEAD_LETTER_TARGET_BYTES
    )
    counts = [processed[STATS_TAG], deduplicated.stats, written, rejected_written, dead_letters_written]
    if index.built is not None:
        counts += decontamination_counts(processed, index.built, directory)
    return (
        counts
        | "All counts" >> beam.Flatten()
        | "Sum counts" >> beam.CombinePerKey(sum)
        | "Collect counts" >> beam.combiners.ToList()
        | "Write stats" >> beam.Map(write_stats, directory, index.benchmarks(), **index.report_side_inputs())
    )


def decontamination_counts(processed, built: IndexResult, directory: str) -> list[beam.PCollection]:
    """contaminated/*.jsonl written from the per-document stage's CONTAMINATED_TAG parts; the
    counts of the index, of that writer and of the items found."""
    contaminated_written = processed[CONTAMINATED_TAG] | "Write contaminated" >> WriteParts(
        outputs.join(directory, CONTAMINATED_DIR), "jsonl", DEAD_LETTER_TARGET_BYTES
    )
    found = processed[FOUND_TAG] | "Count items found" >> CountFoundItems()
    return [built.stats, contaminated_written, found]


def write_stats(
    totals: list, directory: str, benchmarks: list[str] | None = None, unreadable_files: list | None = None
) -> dict:
    """Writes stats.json (and, with `benchmarks`, decontamination.json, listing `unreadable_files`)
    once every other output is written, then removes the part files, which nothing reads any more;
    returns the report."""
    report = stats_to_report(totals)
    data = json.dumps(report, indent=2, sort_keys=True).encode("utf-8") + b"\n"
    write_file_atomically(outputs.join(directory, "stats.json"), data)
    if benchmarks is not None:
        decontamination = json.dumps(
            decontamination_report(report, benchmarks, unreadable_files or []), indent=2, sort_keys=True
        )
        write_file_atomically(outputs.join(directory, DECONTAMINATION_REPORT), decontamination.encode() + b"\n")
    parts = outputs.join(directory, PARTS_DIR)
    if FileSystems.exists(parts):
        FileSystems.delete([parts])
    return report


def worker_paths(config: Config) -> dict[str, str]:
    """{config field: path} of everything prepare's workers read or write."""
    return {
        "output": config.output,
        "filters.language.model_path": config.filters.language.model_path,
        **{f"inputs[{i}].glob": spec.glob for i, spec in enumerate(config.inputs)},
        **benchmark_paths(config),
    }


def benchmark_paths(config: Config) -> dict[str, str]:
    return {
        f"decontaminate.benchmarks[{i}].path": spec.path.removeprefix("hf=")
        for i, spec in enumerate(config.decontaminate.benchmarks)
    }


def ids_pass_monitor(config: Config, staging: str, total: Progress) -> contextlib.AbstractContextManager:
    """The progress of the pass that reads every record's own id before the main one
    (FindRepeatedIds), where there are such ids and the reports are on this machine: at 4 GB of
    JSON lines it takes about 25 s that would otherwise show nothing."""
    directory = progress_directory(staging, IDS_PASS)
    if directory is None or not any(has_own_ids(spec, config.read) for spec in config.inputs):
        return contextlib.nullcontext()
    every = config.runner.progress_seconds
    return ProgressMonitor("prepare, record ids", directory, total, every, until_read=True, finished="done")


def run_prepare(config: Config, beam_args: list[str]) -> dict:
    """Validates, runs the pipeline, commits the outputs; returns the stats report."""
    config.validate()
    check_workers_can_reach(beam_args, worker_paths(config))
    check_inputs_match(config)
    benchmark_files(config.decontaminate.benchmarks)  # each must match a file: a one-line error before any work
    config_sha256 = fingerprint.prepare(config)
    started = time.monotonic()
    with outputs.staged(config.output, config.runner.wait_for_lock) as run:
        staging = run.staging
        total = input_total(config)
        with (
            ProgressMonitor("prepare", progress_directory(staging), total, config.runner.progress_seconds),
            ids_pass_monitor(config, staging, total),
        ):
            # One part is one worker's work: worker processes would only add their start-up.
            one_part = not config.runner.direct_num_workers and one_input_part(config, total.bytes)
            local_args = in_one_process(beam_args) if one_part else beam_args
            run_pipeline(
                lambda p: p | "Prepare" >> PrepareFiles(config, staging, total.bytes), local_args, config.runner
            )
        with FileSystems.open(outputs.join(staging, "stats.json")) as handle:
            report = json.load(handle)
        check_documents_written(report, config.write.allow_empty)
        write_file_atomically(outputs.join(staging, "report.png"), funnel_png(report))
        # rejected/ and contaminated/ are committed (empty) even when not written, so none is left
        # from an earlier run; so is the absence of decontamination.json.
        decontaminated = bool(config.decontaminate.benchmarks)
        run.commit(
            directories=["docs", "dead_letter", "rejected", "duplicates", CONTAMINATED_DIR],
            files=["stats.json", "report.png"] + ([DECONTAMINATION_REPORT] if decontaminated else []),
            success_info={"stage": "prepare", fingerprint.FIELD: config_sha256},
            absent=() if decontaminated else (DECONTAMINATION_REPORT,),
        )
    logging.info("prepare finished in %.1f s", time.monotonic() - started)
    return report
