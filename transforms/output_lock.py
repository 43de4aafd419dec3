"""One run at a time per output directory: `DIR/_LOCK`, which names the run that holds it.

    with hold(output, wait=False) as lock:   # raises OutputInUse naming the other run
        ...                                  # lock.check() before publishing anything

The lock file holds its holder as JSON: host, pid, start time (UTC) and run id. A second run
fails at once with a one-line message naming them, or, with `wait`, waits until the holder is
done. A lock whose holder is gone is taken over, with a warning naming it.

Local directories: the file is held with flock(2), which the kernel releases when the holding
process dies however it dies, so a dead holder is told from a live one with certainty (on a
network filesystem, as far as its server honours flock). The file is removed on release.

gs://: the lock is an object created with the precondition ifGenerationMatch=0, which only one
creator can satisfy. Its holder rewrites it every RENEW_SECONDS (each rewrite conditional on
the generation it last wrote, so a holder that lost it finds out); a lock not rewritten for
LEASE_SECONDS, or held by a process of this host that no longer exists, is stale, and is taken
over by a write conditional on the stale generation, which again only one taker can satisfy.
A holder whose lock was taken over (it stopped renewing: a paused or cut-off machine) fails
before it publishes its outputs.

Other Beam filesystems (s3://, hdfs://...) have no lock: a warning says that concurrent runs
into one directory are not detected there.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass

from apache_beam.io.filesystems import FileSystems

from transforms.settings import OperatorError

LOCK = "_LOCK"
WAIT_POLL_SECONDS = 2.0
# gs:// leases: rewritten every RENEW_SECONDS; stale after LEASE_SECONDS without a rewrite
# (generous, so that a slow network or a clock a little off never takes a live run's lock).
RENEW_SECONDS = 60.0
LEASE_SECONDS = 600.0


class OutputError(OperatorError):
    """The output directory cannot be used: in use by another run, a file, or not writable."""


@dataclass(frozen=True)
class Holder:
    """Who holds a lock: the run's machine, process, start time (UTC, ISO 8601) and id."""

    host: str
    pid: int
    started: str
    run_id: str

    @classmethod
    def this_run(cls) -> Holder:
        started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        run_id = f"{started.replace('-', '').replace(':', '')}-{os.getpid()}-{secrets.token_hex(3)}"
        return cls(socket.gethostname(), os.getpid(), started, run_id)

    @classmethod
    def from_bytes(cls, data: bytes) -> Holder | None:
        """The holder a lock file records; None where it records none (empty, or cut short)."""
        try:
            return cls(**json.loads(data))
        except (ValueError, TypeError):
            return None

    def to_bytes(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True).encode() + b"\n"

    def describe(self) -> str:
        return f"host {self.host}, pid {self.pid}, started {self.started}, run {self.run_id}"

    def is_gone_from_this_host(self) -> bool:
        """True where the holder ran on this machine and its process no longer exists."""
        if self.host != socket.gethostname():
            return False
        try:
            os.kill(self.pid, 0)  # signal 0: only asks whether the process exists
        except ProcessLookupError:
            return True
        except PermissionError:  # it exists, owned by another user
            pass
        return False


class OutputInUse(OutputError):
    def __init__(self, output: str, holder: Holder | None):
        who = holder.describe() if holder else "a run that has not yet written its name"
        super().__init__(
            f"output {output!r} is in use by another run ({who}); wait for it to finish, or pass --wait-for-lock"
        )


@contextmanager
def hold(output: str, wait: bool = False) -> Iterator[Lock]:
    """Holds OUTPUT's lock for the block (creating OUTPUT where needed).

    Raises OutputInUse where another live run holds it (with `wait`, waits for it instead), and
    OutputError where OUTPUT is a file or cannot be written."""
    lock = _lock_for(output)
    holder = Holder.this_run()
    announced = False
    while True:
        other, previous = lock.try_acquire(holder)
        if other is None:
            break
        if not wait:
            raise OutputInUse(output, other)
        if not announced:
            logging.warning("output %s is in use by another run (%s): waiting for it", output, other.describe())
            announced = True
        time.sleep(WAIT_POLL_SECONDS)
    lock.holder = holder
    if previous is not None:
        logging.warning("output %s: took over the lock of a run that is gone (%s)", output, previous.describe())
    try:
        yield lock
    finally:
        lock.release()


UNNAMED = Holder("?", 0, "?", "?")  # a lock file cut short before its holder wrote its name


class Lock:
    """What every kind of lock offers `hold` and the run holding it."""

    output: str
    holder: Holder  # set by `hold` once this run holds the lock
    lost: str | None = None  # why this run no longer holds the lock (only a gs:// lease can be lost)

    def try_acquire(self, holder: Holder) -> tuple[Holder | None, Holder | None]:
        """(the live holder, None) where another run holds the lock; else (None, the gone
        holder it replaced, if any), and this run holds it."""
        raise NotImplementedError

    def release(self) -> None:
        raise NotImplementedError

    def check(self) -> None:
        """Raises OutputError where this run no longer holds the lock: call before publishing."""
        if self.lost:
            raise OutputError(f"output {self.output!r}: this run lost its lock ({self.lost}); nothing was published")


class _LocalLock(Lock):
    def __init__(self, output: str):
        if os.path.exists(output) and not os.path.isdir(output):
            raise OutputError(f"output {output!r} is a file; give a directory")
        try:
            os.makedirs(output, exist_ok=True)
        except OSError as err:
            raise OutputError(f"output {output!r} cannot be created: {err.strerror}") from None
        self.path = os.path.join(output, LOCK)
        self.output = output
        self.fd: int | None = None

    def try_acquire(self, holder: Holder) -> tuple[Holder | None, Holder | None]:
        while True:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as err:
                raise OutputError(f"output {self.output!r} is not writable: {err.strerror}") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                other = Holder.from_bytes(os.pread(fd, 4096, 0))
                os.close(fd)
                return other or UNNAMED, None
            # Its holder may have removed the file between our open and our flock: then we hold
            # a file nobody else will open, and start again on the path's new file.
            try:
                same_file = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same_file = False
            if not same_file:
                os.close(fd)
                continue
            previous = Holder.from_bytes(os.pread(fd, 4096, 0))
            os.ftruncate(fd, 0)
            os.pwrite(fd, holder.to_bytes(), 0)
            os.fsync(fd)
            self.fd = fd
            return None, previous

    def release(self) -> None:
        if self.fd is None:
            return
        # Removed while still held: a run waiting on this file then sees it is gone (above).
        os.unlink(self.path)
        os.close(self.fd)
        self.fd = None


class _GcsLock(Lock):
    def __init__(self, output: str, bucket=None):
        """`bucket`: a google.cloud.storage Bucket (or an object with its methods); by default
        the client's, from the path."""
        bucket_name, _, prefix = output[len("gs://") :].partition("/")
        if bucket is None:
            from google.cloud.storage import Client

            bucket = Client().bucket(bucket_name)
        self.bucket = bucket
        self.name = f"{prefix.rstrip('/')}/{LOCK}" if prefix.strip("/") else LOCK
        self.output = output
        self.generation: int | None = None
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None

    def try_acquire(self, holder: Holder) -> tuple[Holder | None, Holder | None]:
        from google.api_core.exceptions import Forbidden, PreconditionFailed

        try:
            while True:
                blob = self.bucket.blob(self.name)
                try:
                    blob.upload_from_string(holder.to_bytes(), if_generation_match=0)
                    self._acquired(holder, blob.generation)
                    return None, None
                except PreconditionFailed:
                    pass
                current = self.bucket.get_blob(self.name)
                if current is None:  # released in between: try again
                    continue
                other = Holder.from_bytes(current.download_as_bytes(if_generation_match=current.generation))
                if other is not None and other.run_id == holder.run_id:
                    self._acquired(holder, current.generation)  # our own create, retried after a timeout
                    return None, None
                if not self._is_stale(current, other):
                    return other or UNNAMED, None
                try:
                    blob.upload_from_string(holder.to_bytes(), if_generation_match=current.generation)
                except PreconditionFailed:
                    continue  # another run took it over first
                self._acquired(holder, blob.generation)
                return None, other
        except Forbidden as err:
            raise OutputError(f"output {self.output!r} is not writable: {err.message}") from None

    @staticmethod
    def _is_stale(blob, holder: Holder | None) -> bool:
        # The object's own update time is the storage server's clock, so the holder's clock does not matter.
        age = time.time() - blob.updated.timestamp()
        return age > LEASE_SECONDS or (holder is not None and holder.is_gone_from_this_host())

    def _acquired(self, holder: Holder, generation: int) -> None:
        self.holder, self.generation = holder, generation
        self._renewer = threading.Thread(target=self._renew, name="output-lock-renewer", daemon=True)
        self._renewer.start()

    def _renew(self) -> None:
        from google.api_core.exceptions import GoogleAPIError, PreconditionFailed

        while not self._stop.wait(RENEW_SECONDS):
            blob = self.bucket.blob(self.name)
            try:
                blob.upload_from_string(self.holder.to_bytes(), if_generation_match=self.generation)
            except PreconditionFailed:
                self.lost = f"not renewed for {LEASE_SECONDS:.0f} s, another run took it over"
                return
            except GoogleAPIError as err:  # a network blip: the lease outlasts many renewals
                logging.warning("output %s: could not renew the lock (%s); trying again", self.output, err)
                continue
            self.generation = blob.generation

    def release(self) -> None:
        from google.api_core.exceptions import NotFound, PreconditionFailed

        self._stop.set()
        if self._renewer is not None:
            self._renewer.join()
        try:
            self.bucket.blob(self.name).delete(if_generation_match=self.generation)
        except (NotFound, PreconditionFailed):
            pass  # taken over: not ours to remove


class _NoLock(Lock):
    def __init__(self, output: str):
        self.output = output
        logging.warning(
            "output %s: %s:// has no lock here; concurrent runs into one directory are not detected",
            output,
            FileSystems.get_scheme(output),
        )

    def try_acquire(self, holder: Holder) -> tuple[Holder | None, Holder | None]:
        return None, None

    def release(self) -> None:
        pass


def _lock_for(output: str) -> _LocalLock | _GcsLock | _NoLock:
    scheme = FileSystems.get_scheme(output)
    if scheme is None:
        return _LocalLock(output)
    if scheme == "gs":
        return _GcsLock(output)
    return _NoLock(output)
