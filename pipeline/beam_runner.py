"""Running a pipeline: Beam options from the command line, with local defaults.

Options after `--` on the command line go to Beam unchanged. Where they name no
runner, the job runs on the DirectRunner in multi-process mode with one worker
per core (the DirectRunner's own default is a single thread).
"""

from __future__ import annotations

import logging
import os
from typing import Callable

import apache_beam as beam
from apache_beam.options.pipeline_options import DirectOptions, PipelineOptions, StandardOptions, WorkerOptions

from pipeline.config import RunnerConfig


def pipeline_options(beam_args: list[str], runner: RunnerConfig) -> PipelineOptions:
    options = PipelineOptions(beam_args)
    if "--default_sdk_harness_log_level" not in " ".join(beam_args):
        # Workers log at the driver's level: quiet unless `textshards -v`.
        options.view_as(WorkerOptions).default_sdk_harness_log_level = logging.getLevelName(
            logging.getLogger().getEffectiveLevel())
    standard = options.view_as(StandardOptions)
    if standard.runner is None:
        standard.runner = "DirectRunner"
    if standard.runner in ("DirectRunner", "direct"):
        direct = options.view_as(DirectOptions)
        if "--direct_running_mode" not in " ".join(beam_args):
            direct.direct_running_mode = "multi_processing"
        if "--direct_num_workers" not in " ".join(beam_args):
            direct.direct_num_workers = runner.direct_num_workers or os.cpu_count() or 1
    return options


def run_pipeline(build: Callable[[beam.Pipeline], object], beam_args: list[str],
                 runner: RunnerConfig) -> None:
    """Builds the pipeline with `build`, runs it and waits; raises if the job failed."""
    options = pipeline_options(beam_args, runner)
    if logging.getLogger().getEffectiveLevel() > logging.INFO:
        # The local job service re-logs every worker message; workers' own stderr suffices.
        logging.getLogger("apache_beam.runners.portability.local_job_service").setLevel(logging.ERROR)
    logging.info("running on %s", options.view_as(StandardOptions).runner)
    with beam.Pipeline(options=options) as pipeline:
        build(pipeline)
