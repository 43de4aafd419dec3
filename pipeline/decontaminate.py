"""`textshards decontaminate`: an existing docs/ directory checked against benchmarks, written anew.

    benchmarks --BuildIndex--> index bucket files, IndexPlan (side input)
    DIR/docs/*.parquet --one worker per file, read once per index partition--> OUT/docs/ (same names),
        contaminated/ parts, items found
    counts --> OUT/stats.json, OUT/decontamination.json; OUT/contaminated/*.jsonl; OUT/_SUCCESS last

The output has prepare's layout (docs/, stats.json, contaminated/, decontamination.json), so the
next stages read it as they read prepare's. Its stats.json counts, per source, the documents read
and written here and those dropped or changed as contaminated.
"""

from __future__ import annotations

import json
import logging
import time
from typing import TYPE_CHECKING

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from pipeline import fingerprint
from pipeline.beam_runner import check_workers_can_reach, run_pipeline
from pipeline.prepare import (
    CONTAMINATED_DIR,
    DECONTAMINATION_REPORT,
    PARTS_DIR,
    benchmark_paths,
    decontamination_counts,
    decontamination_index,
    write_stats,
)
from transforms import outputs
from transforms.decontaminate.items import benchmark_files
from transforms.decontaminate.stage import CONTAMINATED_TAG, FOUND_TAG, DecontaminateFiles
from transforms.settings import OperatorError, raise_problems
from transforms.stats import STATS_TAG

if TYPE_CHECKING:
    from pipeline.config import Config


def run_decontaminate(config: Config, beam_args: list[str]) -> dict:
    """Checks, runs the pipeline, commits the output; returns its stats report."""
    from pipeline.config import command_problems  # the workers, which import this module, need no run config

    raise_problems(command_problems(config, "decontaminate"))
    settings = config.decontaminate
    if outputs.prepare_output_of(settings.docs.rstrip("/")) == config.output.rstrip("/"):
        raise OperatorError(
            f"decontaminate: --output {config.output!r} holds the documents read: give another directory"
        )
    docs_files = outputs.docs_files(settings.docs, "decontaminate.docs")
    check_workers_can_reach(
        beam_args, {"output": config.output, "decontaminate.docs": settings.docs, **benchmark_paths(config)}
    )
    benchmark_files(settings.benchmarks)  # each must match a file: a one-line error before any work
    config_sha256 = fingerprint.decontaminate(config)
    started = time.monotonic()
    with outputs.staged(config.output, config.runner.wait_for_lock) as run:
        staging = run.staging
        run_pipeline(
            lambda p: p | "Decontaminate" >> DecontaminateDocs(config, docs_files, staging), beam_args, config.runner
        )
        with FileSystems.open(outputs.join(staging, "stats.json")) as handle:
            report = json.load(handle)
        run.commit(
            directories=["docs", CONTAMINATED_DIR],
            files=["stats.json", DECONTAMINATION_REPORT],
            success_info={"stage": "decontaminate", fingerprint.FIELD: config_sha256},
        )
    logging.info("decontaminate finished in %.1f s", time.monotonic() - started)
    return report


class DecontaminateDocs(beam.PTransform):
    """The pipeline (pbegin) -> the stats report; `docs_files` decontaminated into `directory`."""

    def __init__(self, config: Config, docs_files: list[str], directory: str):
        super().__init__()
        self._config = config
        self._docs_files = docs_files
        self._directory = directory

    def expand(self, pbegin):
        config, directory = self._config, self._directory
        index = decontamination_index(pbegin.pipeline, config, directory)
        assert index.decontamination is not None and index.built is not None, "no benchmarks"
        processed = (
            pbegin
            | "Docs files" >> beam.Create(self._docs_files)
            | "Spread docs files" >> beam.Reshuffle()
            | "Check docs files"
            >> beam.ParDo(
                DecontaminateFiles(index.decontamination, directory, outputs.join(directory, PARTS_DIR)),
                beam.pvalue.AsSingleton(index.built.plan),
            ).with_outputs(STATS_TAG, CONTAMINATED_TAG, FOUND_TAG, main="none")
        )
        return (
            [processed[STATS_TAG], *decontamination_counts(processed, index.built, directory)]
            | "All counts" >> beam.Flatten()
            | "Sum counts" >> beam.CombinePerKey(sum)
            | "Collect counts" >> beam.combiners.ToList()
            | "Write stats" >> beam.Map(write_stats, directory, index.benchmarks(), **index.report_side_inputs())
        )
