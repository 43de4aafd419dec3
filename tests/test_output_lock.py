"""One run at a time per output directory (transforms/output_lock.py): a second run fails at once
naming the first, or waits; a dead holder's lock is taken over; two `prepare` runs into one
directory leave exactly one run's output. gs:// leases are tested against an in-memory bucket
that keeps generations the way Cloud Storage documents them (no network here)."""

from __future__ import annotations

import datetime
import inspect
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from pipeline import fingerprint
from pipeline.cli import main
from pipeline.config import Config
from tests.helpers import IN_MEMORY, REPO_ROOT
from transforms import output_lock
from transforms.output_lock import LOCK, OutputInUse, hold
from transforms.readers import InputSpec

BOOKS = REPO_ROOT / "examples" / "corpus" / "books"
HOLD_SCRIPT = """
import sys, time
from transforms.output_lock import hold
with hold(sys.argv[1]):
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def _holder_process(output: Path, seconds: float) -> subprocess.Popen:
    """A process of its own that holds OUTPUT's lock for `seconds`, started once it holds it."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))}
    process = subprocess.Popen(
        [sys.executable, "-c", HOLD_SCRIPT, str(output), str(seconds)], stdout=subprocess.PIPE, env=env, text=True
    )
    assert process.stdout is not None and process.stdout.readline() == "held\n"
    return process


def test_a_second_run_fails_at_once_naming_the_holder_and_a_dead_holders_lock_is_taken_over(tmp_path, caplog):
    holder = _holder_process(tmp_path / "out", 60)
    try:
        started = time.monotonic()
        with pytest.raises(OutputInUse) as refused, hold(str(tmp_path / "out")):
            pass
        assert time.monotonic() - started < 1
        message = str(refused.value)
        assert f"host {socket.gethostname()}, pid {holder.pid}, started 20" in message and "--wait-for-lock" in message
        assert "\n" not in message
    finally:
        holder.send_signal(signal.SIGKILL)  # no chance to release: the lock file stays, naming it
        holder.wait()
    assert json.loads((tmp_path / "out" / LOCK).read_text())["pid"] == holder.pid

    with caplog.at_level(logging.WARNING), hold(str(tmp_path / "out")) as lock:
        assert json.loads((tmp_path / "out" / LOCK).read_text())["run_id"] == lock.holder.run_id
    assert f"took over the lock of a run that is gone (host {socket.gethostname()}, pid {holder.pid}" in caplog.text
    assert not (tmp_path / "out" / LOCK).exists()


def test_a_run_asked_to_wait_starts_when_the_holder_finishes(tmp_path, caplog):
    holder = _holder_process(tmp_path / "out", 1.5)
    with caplog.at_level(logging.WARNING), hold(str(tmp_path / "out"), wait=True) as lock:
        assert json.loads((tmp_path / "out" / LOCK).read_text())["run_id"] == lock.holder.run_id
    assert holder.wait(timeout=30) == 0  # it finished its hold normally: nothing was taken from it
    assert "is in use by another run" in caplog.text and "waiting for it" in caplog.text


@pytest.mark.slow  # a `textshards prepare` process of its own
def test_of_two_prepare_runs_into_one_directory_one_completes_and_the_other_fails_naming_it(tmp_path, capsys):
    output = tmp_path / "out"
    first = [sys.executable, "-m", "pipeline.cli", "prepare", "--output", str(output), "--input"]
    first += [f"alice={BOOKS}/alice29.txt", "--", *IN_MEMORY]
    process = subprocess.Popen(first, cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (output / LOCK).exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)

    # Started while the first holds the lock (this process has imported everything: it gets there at once).
    assert main(["prepare", "--output", str(output), "--input", f"hamlet={BOOKS}/asyoulik.txt", "--", *IN_MEMORY]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"textshards: output {str(output)!r} is in use by another run (host ")
    assert f"pid {process.pid}," in err and "\n" not in err
    _, first_err = process.communicate(timeout=300)
    assert process.returncode == 0, first_err

    sources = {s for f in (output / "docs").glob("*.parquet") for s in pq.read_table(f).column("source").to_pylist()}
    assert sources == {"alice"}
    alice = Config(inputs=[InputSpec(name="alice", glob=f"{BOOKS}/alice29.txt")], output=str(output))
    assert fingerprint.recorded(str(output)) == fingerprint.prepare(alice)
    assert not (output / LOCK).exists() and not (output / ".incomplete").exists()


class FakeBlob:
    """A Cloud Storage object handle: writes and deletes succeed only where if_generation_match
    holds (0: the object must not exist), and each write makes a new generation."""

    def __init__(self, bucket: FakeBucket, name: str):
        self.bucket, self.name, self.generation = bucket, name, None

    def upload_from_string(self, data: bytes, if_generation_match: int) -> None:
        from google.api_core.exceptions import PreconditionFailed

        current = self.bucket.objects.get(self.name)
        if (current[1] if current else 0) != if_generation_match:
            raise PreconditionFailed("generation mismatch")
        self.bucket.last_generation += 1
        self.generation = self.bucket.last_generation
        self.bucket.objects[self.name] = (data, self.generation, datetime.datetime.now(datetime.timezone.utc))

    def download_as_bytes(self, if_generation_match: int) -> bytes:
        return self.bucket.objects[self.name][0]

    def delete(self, if_generation_match: int) -> None:
        from google.api_core.exceptions import NotFound, PreconditionFailed

        if self.name not in self.bucket.objects:
            raise NotFound("no such object")
        if self.bucket.objects[self.name][1] != if_generation_match:
            raise PreconditionFailed("generation mismatch")
        del self.bucket.objects[self.name]


class FakeBucket:
    def __init__(self):
        self.objects: dict[str, tuple[bytes, int, datetime.datetime]] = {}
        self.last_generation = 0

    def blob(self, name: str) -> FakeBlob:
        return FakeBlob(self, name)

    def get_blob(self, name: str) -> FakeBlob | None:
        if name not in self.objects:
            return None
        blob = FakeBlob(self, name)
        _, blob.generation, blob.updated = self.objects[name]
        return blob


def test_the_gcs_lock_calls_exist_in_google_cloud_storage_with_generation_preconditions():
    from google.cloud.storage import Blob, Bucket

    for method in (Blob.upload_from_string, Blob.download_as_bytes, Blob.delete):
        assert "if_generation_match" in inspect.signature(method).parameters, method
    assert {"blob", "get_blob"} <= set(dir(Bucket)) and "updated" in dir(Blob)


def test_a_gcs_lease_excludes_a_second_run_until_it_is_released_or_expires(monkeypatch):
    bucket = FakeBucket()
    output = "gs://bucket/run/prepare"
    first = output_lock._GcsLock(output, bucket)
    first_holder = output_lock.Holder("elsewhere", 1, "2030-01-01T00:00:00Z", "first")
    assert first.try_acquire(first_holder) == (None, None)
    assert set(bucket.objects) == {"run/prepare/_LOCK"}

    second = output_lock._GcsLock(output, bucket)
    second_holder = output_lock.Holder("here", 2, "2030-01-01T00:01:00Z", "second")
    assert second.try_acquire(second_holder) == (first_holder, None)

    # The first stops renewing (a machine cut off): once the lease has run out, the lock is taken over.
    monkeypatch.setattr(output_lock, "LEASE_SECONDS", -1.0)
    assert second.try_acquire(second_holder) == (None, first_holder)
    # The first finds out at its next renewal, and refuses to publish.
    monkeypatch.setattr(output_lock, "RENEW_SECONDS", 0.01)
    first._stop.clear()
    first._renew()
    with pytest.raises(output_lock.OutputError, match="lost its lock"):
        first.check()
    first.release()  # leaves the new holder's lock alone
    assert json.loads(bucket.objects["run/prepare/_LOCK"][0])["run_id"] == "second"
    second.release()
    assert bucket.objects == {}
