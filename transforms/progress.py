"""Progress of a Beam stage's reading: files and bytes read of the total, rate and ETA.

The DirectRunner runs the DoFns in worker processes while the driver waits in pipeline.run(),
so the two sides meet in small files:

    reading DoFn (a worker) --ProgressReport.add--> DIR/<report id>.json: its files and bytes read so far
    driver --ProgressMonitor's thread, every few seconds: sums DIR/*.json--> a tqdm bar on a terminal,
                                                                             plain lines in a log

DIR (`progress_directory`) lies under the run's staging directory where that is on this machine's
filesystem (the DirectRunner, a local job service). Elsewhere (Dataflow, gs://) the same counts
are the Beam metrics textshards/progress.files_read and progress.bytes_read, which the runner's
UI shows. Bytes are the input's bytes as stored, the unit of the total the driver knows from the
match; a piece of input reports its share as it is read (`PieceReading`) and exactly when done.
Nothing here changes an output.
"""

from __future__ import annotations

import io
import json
import os
import sys
import threading
import time
import uuid
from typing import BinaryIO, Iterable, Iterator, NamedTuple, Protocol, TextIO, TypeVar

from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

from transforms.stats import METRICS_NAMESPACE

WRITE_EVERY_SECONDS = 1.0  # a report rewrites its file at most this often while a piece is read
QUIET_SECONDS = 60.0  # a line at least this often while nothing moves (the steps after reading)
PROGRESS_DIRECTORY = ".progress"


class Rows(Protocol):
    """A batch of rows (a pyarrow.RecordBatch), known here only by its number of rows."""

    @property
    def num_rows(self) -> int: ...


B = TypeVar("B", bound=Rows)


class Progress(NamedTuple):
    files: int
    bytes: int


def format_duration(seconds: float) -> str:
    """'45 s', '3 min 05 s', '2 h 10 min'."""
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


AFTER_READING = "the steps after reading are running"


def progress_line(
    label: str, done: Progress, total: Progress, rate: float | None, elapsed: float, finished: str = AFTER_READING
) -> str:
    """One line of progress: files and MB read of the total, percentage, rate (bytes/s; None
    where not known yet) and the ETA it gives; once everything is read, the time it took and
    `finished`."""
    fraction = min(done.bytes / total.bytes, 1.0) if total.bytes else 1.0
    read = (
        f"[textshards] {label}: read {done.files} of {total.files} files, "
        f"{done.bytes / 1e6:.1f} of {total.bytes / 1e6:.1f} MB ({100 * fraction:.0f}%)"
    )
    if fraction >= 1.0 and done.files >= total.files:
        return f"{read}, {format_duration(elapsed)} elapsed; {finished}"
    if not rate:
        return f"{read}, ETA unknown"
    return f"{read}, {rate / 1e6:.2f} MB/s, ETA {format_duration((total.bytes - done.bytes) / rate)}"


# ---------------------------------------------------------------------------
# Worker side


class ProgressReport:
    """What one reading DoFn has read. Picklable: each copy a worker makes writes a file of its
    own, named when it first reports. `directory` None: Beam metrics only, `metric`.files_read and
    `metric`.bytes_read (a pass that reads the input before the main one has metrics of its own)."""

    def __init__(self, directory: str | None, metric: str = "progress"):
        self._directory = directory
        self._path: str | None = None
        self._done = self._passed = Progress(0, 0)  # read, and passed on to the metrics and the file
        self._passed_at = 0.0
        self._files_read = Metrics.counter(METRICS_NAMESPACE, f"{metric}.files_read")
        self._bytes_read = Metrics.counter(METRICS_NAMESPACE, f"{metric}.bytes_read")

    def add(self, files: int = 0, nbytes: int = 0) -> None:
        """Counts `files` finished and `nbytes` more read; passed on (`flush`) at most every
        WRITE_EVERY_SECONDS: a count per document would cost more than reading a small one."""
        self._done = Progress(self._done.files + files, self._done.bytes + nbytes)
        if time.monotonic() - self._passed_at >= WRITE_EVERY_SECONDS:
            self.flush()

    def flush(self) -> None:
        """Passes what was read on to the metrics and the file."""
        self._passed_at = time.monotonic()
        done, passed = self._done, self._passed
        if done.files > passed.files:
            self._files_read.inc(done.files - passed.files)
        if done.bytes > passed.bytes:
            self._bytes_read.inc(done.bytes - passed.bytes)
        self._passed = done
        if self._directory is not None:
            self._write(self._directory)

    def piece(self, size: int, files: int) -> PieceReading:
        """Starts a piece of input of `size` bytes as stored that holds the ends of `files` files."""
        return PieceReading(self, size, files)

    def whole_file(self, handle: BinaryIO) -> PieceReading:
        """Starts a file read whole through `handle` (left at its start)."""
        size = handle.seek(0, io.SEEK_END)
        handle.seek(0)
        return PieceReading(self, size, 1)

    def _write(self, directory: str) -> None:
        if self._path is None:
            os.makedirs(directory, exist_ok=True)
            self._path = os.path.join(directory, f"{uuid.uuid4().hex}.json")
        temp = f"{self._path}.tmp"
        with open(temp, "w") as handle:
            json.dump(self._done._asdict(), handle)
        os.replace(temp, self._path)  # the driver never reads half a file


class PieceReading:
    """One piece of input being read: its bytes reported in proportion as it is read, in
    whatever measure the reader has (documents' bytes, rows), and in full when it is done."""

    def __init__(self, report: ProgressReport, size: int, files: int):
        self._report, self._size, self._files = report, size, files
        self._reported = 0

    def advance(self, done: float, of: float) -> None:
        """`done` of `of` is read, in the reader's own measure (capped at all: an estimate may overshoot)."""
        target = int(self._size * min(done / of, 1.0)) if of > 0 else self._size
        if target > self._reported:
            self._report.add(nbytes=target - self._reported)
            self._reported = target

    def done(self) -> None:
        self._report.add(files=self._files, nbytes=self._size - self._reported)
        self._report.flush()
        self._reported = self._size

    def of_batches(self, batches: Iterable[B], rows: int) -> Iterator[B]:
        """`batches` (Arrow record batches) of a piece of `rows` rows, passed through; each
        advances the piece by its share of the rows, and the piece is done after the last."""
        read = 0
        for batch in batches:
            read += batch.num_rows
            self.advance(read, rows)
            yield batch
        self.done()


def progress_directory(staging: str, read_pass: str = "") -> str | None:
    """Where the workers leave their reports: under a staging directory on this machine's
    filesystem (absolute: the workers' working directory may differ); None on any other.
    `read_pass` names a pass over the input before the main one, whose reports are apart."""
    if FileSystems.get_scheme(staging) is not None:
        return None
    return os.path.join(os.path.abspath(staging), PROGRESS_DIRECTORY, read_pass)


def total_of(pattern: str) -> Progress:
    """The files a glob matches and their bytes: what a stage that reads them all has to read."""
    matched = FileSystems.match([pattern])[0].metadata_list
    return Progress(len(matched), sum(m.size_in_bytes for m in matched))


def read_reports(directory: str) -> Progress:
    """The sum of every report under `directory` (none yet: zero)."""
    files = nbytes = 0
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return Progress(0, 0)
    for name in names:
        if not name.endswith(".json"):
            continue
        try:
            with open(os.path.join(directory, name)) as handle:
                report = json.load(handle)
        except (OSError, ValueError):  # replaced while being opened: counted at the next poll
            continue
        files += report["files"]
        nbytes += report["bytes"]
    return Progress(files, nbytes)


# ---------------------------------------------------------------------------
# Driver side


class ProgressMonitor:
    """A thread that shows the workers' reports under `directory` against `total`, every
    `every` seconds while the block runs: a tqdm bar where `out` is a terminal, else a line
    (`progress_line`) whenever the counts changed, or after QUIET_SECONDS without change.
    `every` 0 shows nothing; `directory` None (remote workers) says where to look instead.
    `until_read`: it stops once everything is read, its last line ending with `finished` (a pass
    over the input before the main one, whose own monitor goes on)."""

    def __init__(
        self,
        label: str,
        directory: str | None,
        total: Progress,
        every: float,
        out: TextIO | None = None,
        until_read: bool = False,
        finished: str = AFTER_READING,
    ):
        self._label, self._directory, self._total, self._every = label, directory, total, every
        self._until_read, self._finished = until_read, finished
        self._out = out or sys.stderr
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="textshards-progress", daemon=True)

    def __enter__(self) -> ProgressMonitor:
        if self._every <= 0:
            return self
        where = (
            f"; progress: the runner's metrics {METRICS_NAMESPACE}/progress.files_read and progress.bytes_read"
            if self._directory is None
            else ""
        )
        print(
            f"[textshards] {self._label}: {self._total.files} files, {self._total.bytes / 1e6:.1f} MB to read{where}",
            file=self._out,
            flush=True,
        )
        if self._directory is not None:
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        if self._thread.is_alive():
            self._stop.set()
            self._thread.join()

    def _run(self) -> None:
        assert self._directory is not None
        started = time.monotonic()
        bar = self._terminal_bar()
        shown, shown_at = Progress(0, 0), started
        first: tuple[float, int] | None = (
            None  # (time, bytes) when reading was first seen: workers take a while to start
        )
        while not self._stop.wait(self._every):
            done, now = read_reports(self._directory), time.monotonic()
            if first is None and done.bytes:
                first = (now, done.bytes)
            if bar is not None:
                bar.update(min(done.bytes, self._total.bytes) - bar.n)
                bar.set_postfix_str(f"{done.files}/{self._total.files} files", refresh=True)
            elif done != shown or now - shown_at >= QUIET_SECONDS:
                rate = (done.bytes - first[1]) / (now - first[0]) if first and now > first[0] else None
                line = progress_line(self._label, done, self._total, rate, now - started, self._finished)
                print(line, file=self._out, flush=True)
                shown, shown_at = done, now
            if self._until_read and done.files >= self._total.files and done.bytes >= self._total.bytes:
                break
        if bar is not None:
            bar.close()

    def _terminal_bar(self):
        if not self._out.isatty():
            return None
        from tqdm import tqdm  # only where there is a terminal to draw on

        return tqdm(
            total=self._total.bytes, desc=self._label, unit="B", unit_scale=True, file=self._out, dynamic_ncols=True
        )
