"""`textshards prepare`: raw files in, clean documents as Parquet out.

inputs --match--> files --read--> raw documents --clean--> rows --filter--> rows --dedup--> docs/*.parquet
                    |                 |                |              |              |
                    +-- read errors --+-- failures ----+--------------+              +--> duplicates/*.jsonl
                    |                                                 +--> dead_letter/*.jsonl
                    |                                                 +-- dropped --> rejected/*.parquet (optional)
                    +-- counts of every step -----------------------------------------> stats.json, report.png
"""

from __future__ import annotations

import functools
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
from transforms.clean import CleanDocuments
from transforms.dedup.deduplicate import Deduplicate
from transforms.filters.stage import REJECTED_TAG, FilterDocuments
from transforms.readers import InputSpec, ReadFiles
from transforms.settings import ConfigError
from transforms.stats import DEAD_LETTER_TAG, STATS_TAG, CountOutput, stats_to_report
from transforms.writers import REJECTED_SCHEMA, WriteSortedShards, jsonl_bytes, parquet_bytes, write_file_atomically

DEAD_LETTER_TARGET_BYTES = 64 * 1024 * 1024


def match_input(spec: InputSpec):
    """(spec, path) for every file the input's glob matches, in path order."""
    for metadata in sorted(FileSystems.match([spec.glob])[0].metadata_list, key=lambda m: m.path):
        yield spec, metadata.path


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
        config = self._config
        files = (
            pbegin
            | "Inputs" >> beam.Create(config.inputs)
            | "Match files" >> beam.FlatMap(match_input)
            | "Spread files" >> beam.Reshuffle()
        )
        read = files | "Read files" >> beam.ParDo(ReadFiles(config.read)).with_outputs(
            STATS_TAG, DEAD_LETTER_TAG, main="documents"
        )
        cleaned = (
            read.documents
            | "Spread documents" >> beam.Reshuffle()
            | "Clean"
            >> beam.ParDo(CleanDocuments(config.clean)).with_outputs(STATS_TAG, DEAD_LETTER_TAG, main="documents")
        )
        filtered = cleaned.documents | "Filter" >> beam.ParDo(FilterDocuments(config.filters)).with_outputs(
            STATS_TAG, DEAD_LETTER_TAG, REJECTED_TAG, main="documents"
        )
        deduplicated = filtered.documents | "Deduplicate" >> Deduplicate(config.dedup, self._staging)
        written = deduplicated.documents | "Count output" >> beam.ParDo(CountOutput()).with_outputs(
            STATS_TAG, main="documents"
        )
        _ = written.documents | "Write docs" >> WriteSortedShards(
            directory=outputs.join(self._staging, "docs"),
            suffix="parquet",
            key=lambda row: row["id"],
            size=lambda row: len(row["text"]),
            target_bytes=config.write.shard_target_bytes,
            encode=parquet_bytes,
        )
        if config.filters.write_rejected:
            _ = filtered[REJECTED_TAG] | "Write rejected" >> WriteSortedShards(
                directory=outputs.join(self._staging, "rejected"),
                suffix="parquet",
                key=lambda row: row["id"],
                size=lambda row: len(row["text"]),
                target_bytes=config.write.shard_target_bytes,
                encode=functools.partial(parquet_bytes, schema=REJECTED_SCHEMA),
            )
        _ = (
            (read[DEAD_LETTER_TAG], cleaned[DEAD_LETTER_TAG], filtered[DEAD_LETTER_TAG])
            | "All dead letters" >> beam.Flatten()
            | "As JSON" >> beam.Map(lambda error: error.to_json_dict())
            | "Write dead letters"
            >> WriteSortedShards(
                directory=outputs.join(self._staging, "dead_letter"),
                suffix="jsonl",
                key=lambda row: f"{row['path']}\0{row['position']:020d}\0{row['error']}",
                size=lambda row: len(row["excerpt"]) + len(row["message"]),
                target_bytes=DEAD_LETTER_TARGET_BYTES,
                encode=jsonl_bytes,
            )
        )
        _ = (
            (read[STATS_TAG], cleaned[STATS_TAG], filtered[STATS_TAG], deduplicated.stats, written[STATS_TAG])
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
    staging = outputs.start(config.output)
    run_pipeline(lambda p: p | "Prepare" >> Prepare(config, staging), beam_args, config.runner)
    with FileSystems.open(outputs.join(staging, "stats.json")) as handle:
        report = json.load(handle)
    write_file_atomically(outputs.join(staging, "report.png"), funnel_png(report))
    # rejected/ is committed (empty) even when not written, so none is left from an earlier run.
    outputs.commit(
        config.output,
        directories=["docs", "dead_letter", "rejected", "duplicates"],
        files=["stats.json", "report.png"],
        success_info={"stage": "prepare", fingerprint.FIELD: config_sha256},
    )
    logging.info("prepare finished in %.1f s", time.monotonic() - started)
    return report
