"""A local Beam job service and an SDK worker pool as processes of their own on this machine, for
tests/test_runners.py (docs/runners.md gives the same commands by hand).

    with beam_job_service(workdir) as service:
        run_prepare(config, service.beam_args)   # on the PortableRunner, through the job service

Every process listens on 127.0.0.1 on a free port, logs to a file under `workdir` and runs in
a session of its own, so that leaving the block stops it and every process it started.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from tests.conftest import REPO_ROOT

STARTUP_SECONDS = 60
# This interpreter's environment: the worker pool starts SDK harnesses with the `python` on PATH.
BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Service:
    beam_args: list[str]  # the pipeline options that run a job there
    address: str  # host:port of the job service
    logs: Path  # the directory holding one log per process


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _start(command: list[str], log: Path, cwd: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
    }
    with open(log, "wb") as output:
        return subprocess.Popen(
            command, stdout=output, stderr=subprocess.STDOUT, cwd=cwd, env=env, start_new_session=True
        )


def _stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _wait_for_port(port: int, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"{' '.join(process.args[:4])} exited with {process.returncode}:\n{log.read_text()[-3000:]}"
            )
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"nothing listens on port {port} after {STARTUP_SECONDS} s:\n{log.read_text()[-3000:]}")


@contextmanager
def beam_job_service(workdir: Path) -> Iterator[Service]:
    """A local Beam job service and an SDK worker pool (worker_pool.log says when it starts a
    harness); jobs go through the Runner API to SDK harness processes the pool starts."""
    job_port, pool_port = free_port(), free_port()
    processes: list[subprocess.Popen] = []
    try:
        processes.append(
            _start(
                [
                    sys.executable,
                    "-m",
                    "apache_beam.runners.portability.local_job_service_main",
                    "--port",
                    str(job_port),
                    "--staging_dir",
                    str(workdir / "staging"),
                ],
                workdir / "job_service.log",
                workdir,
            )
        )
        processes.append(
            _start(
                [sys.executable, "-m", "apache_beam.runners.worker.worker_pool_main", "--service_port", str(pool_port)],
                workdir / "worker_pool.log",
                workdir,
            )
        )
        _wait_for_port(job_port, processes[0], workdir / "job_service.log")
        _wait_for_port(pool_port, processes[1], workdir / "worker_pool.log")
        yield Service(
            beam_args=[
                "--runner=PortableRunner",
                f"--job_endpoint=localhost:{job_port}",
                "--environment_type=EXTERNAL",
                f"--environment_config=localhost:{pool_port}",
            ],
            address=f"localhost:{job_port}",
            logs=workdir,
        )
    finally:
        _stop(processes)
