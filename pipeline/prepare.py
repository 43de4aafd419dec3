"""`textshards prepare`: raw files in, clean documents as Parquet out.

    inputs --match, plan parts--> input parts (file references)
        --read, clean, filter (transforms/document_stage.py)--> part files: docs, rejected, dead letters
    docs parts --Deduplicate (nodes, keys, signatures, edges; texts read back by part)--> removed rows
    docs parts + removed rows --WriteParts--> docs/*.parquet
    rejected parts --WriteParts--> rejected/*.parquet (optional);  dead-letter parts --> dead_letter/*.jsonl
    counts of every step --> stats.json, report.png;  Deduplicate also writes duplicates/*.jsonl

Text never crosses a shuffle: it moves input file -> worker -> part file -> worker -> output
file, and only references, ids, keys, signatures, edges and counts are grouped (docs/memory.md).
"""

from __future__ import annotations

import json
import logging
import time

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from pipeline import fingerprint
from pipeline.beam_runner import check_workers_can_reach, run_pipeline
from pipeline.config import Config
from pipeline.report import funnel_png
from transforms import outputs
from transforms.dedup.deduplicate import Deduplicate
from transforms.document_stage import (
    DEAD_LETTER_PARTS_TAG,
    REJECTED_TAG,
    InputPart,
    ProcessParts,
    plan_input_parts,
    split_large_part,
)
from transforms.parts import WriteParts
from transforms.progress import Progress, ProgressMonitor, ProgressReport, progress_directory
from transforms.readers import InputSpec
from transforms.settings import ConfigError
from transforms.stats import STATS_TAG, stats_to_report
from transforms.writers import DOCS_SCHEMA, REJECTED_SCHEMA, write_file_atomically

DEAD_LETTER_TARGET_BYTES = 64 * 1024 * 1024


def match_input(spec: InputSpec, part_bytes: int) -> list[InputPart]:
    """The input parts of every file the input's glob matches, in path order."""
    files = [(m.path, m.size_in_bytes) for m in FileSystems.match([spec.glob])[0].metadata_list]
    return plan_input_parts(spec, files, part_bytes)


def input_total(config: Config) -> Progress:
    """The files every input matches and their bytes as stored: what prepare reads."""
    parts = [part for spec in config.inputs for part in match_input(spec, config.read.split_bytes)]
    return Progress(sum(len(part.ranges) for part in parts), sum(part.stored_bytes for part in parts))


def check_inputs_match(config: Config) -> None:
    """Fails before any work when a glob matches nothing (almost always a typo)."""
    for i, spec in enumerate(config.inputs):
        try:
            found = FileSystems.match([spec.glob], limits=[1])[0].metadata_list
        except Exception as err:  # Beam raises BeamIOError with the filesystem's reason
            raise ConfigError(f"inputs[{i}].glob: {spec.glob!r} cannot be listed: {err}") from None
        if not found:
            raise ConfigError(f"inputs[{i}].glob: {spec.glob!r} matches no file")


class Prepare(beam.PTransform):
    """The whole prepare stage; writes under `staging` and returns nothing useful."""

    def __init__(self, config: Config, staging: str):
        super().__init__()
        self._config = config
        self._staging = staging

    def expand(self, pbegin):
        config, staging = self._config, self._staging
        processed = (
            pbegin
            | "Inputs" >> beam.Create(config.inputs)
            | "Match files" >> beam.FlatMap(match_input, config.read.split_bytes)
            | "Spread files" >> beam.Reshuffle()
            | "Split large files" >> beam.FlatMap(split_large_part, config.read)
            | "Spread parts" >> beam.Reshuffle()
            | "Read, clean and filter"
            >> beam.ParDo(
                ProcessParts(
                    config.read,
                    config.clean,
                    config.filters,
                    outputs.join(staging, "parts"),
                    ProgressReport(progress_directory(staging)),
                )
            ).with_outputs(STATS_TAG, REJECTED_TAG, DEAD_LETTER_PARTS_TAG, main="docs")
        )
        deduplicated = processed.docs | "Deduplicate" >> Deduplicate(config.dedup, staging)
        written = processed.docs | "Write docs" >> WriteParts(
            outputs.join(staging, "docs"),
            "parquet",
            config.write.shard_target_bytes,
            DOCS_SCHEMA,
            removed=deduplicated.removed,
            count_output=True,
        )
        rejected_written = processed[REJECTED_TAG] | "Write rejected" >> WriteParts(
            outputs.join(staging, "rejected"), "parquet", config.write.shard_target_bytes, REJECTED_SCHEMA
        )
        dead_letters_written = processed[DEAD_LETTER_PARTS_TAG] | "Write dead letters" >> WriteParts(
            outputs.join(staging, "dead_letter"), "jsonl", DEAD_LETTER_TARGET_BYTES
        )
        _ = (
            (processed[STATS_TAG], deduplicated.stats, written, rejected_written, dead_letters_written)
            | "All counts" >> beam.Flatten()
            | "Sum counts" >> beam.CombinePerKey(sum)
            | "Collect counts" >> beam.combiners.ToList()
            | "Write stats" >> beam.Map(self._write_stats)
        )

    def _write_stats(self, totals) -> None:
        report = stats_to_report(totals)
        data = json.dumps(report, indent=2, sort_keys=True).encode("utf-8") + b"\n"
        write_file_atomically(outputs.join(self._staging, "stats.json"), data)


def worker_paths(config: Config) -> dict[str, str]:
    """{config field: path} of everything prepare's workers read or write."""
    return {
        "output": config.output,
        "filters.language.model_path": config.filters.language.model_path,
        **{f"inputs[{i}].glob": spec.glob for i, spec in enumerate(config.inputs)},
    }


def run_prepare(config: Config, beam_args: list[str]) -> dict:
    """Validates, runs the pipeline, commits the outputs; returns the stats report."""
    config.validate()
    check_workers_can_reach(beam_args, worker_paths(config))
    check_inputs_match(config)
    config_sha256 = fingerprint.prepare(config)
    started = time.monotonic()
    with outputs.staged(config.output, config.runner.wait_for_lock) as run:
        staging = run.staging
        with ProgressMonitor(
            "prepare", progress_directory(staging), input_total(config), config.runner.progress_seconds
        ):
            run_pipeline(lambda p: p | "Prepare" >> Prepare(config, staging), beam_args, config.runner)
        with FileSystems.open(outputs.join(staging, "stats.json")) as handle:
            report = json.load(handle)
        write_file_atomically(outputs.join(staging, "report.png"), funnel_png(report))
        # rejected/ is committed (empty) even when not written, so none is left from an earlier run.
        run.commit(
            directories=["docs", "dead_letter", "rejected", "duplicates"],
            files=["stats.json", "report.png"],
            success_info={"stage": "prepare", fingerprint.FIELD: config_sha256},
        )
    logging.info("prepare finished in %.1f s", time.monotonic() - started)
    return report
