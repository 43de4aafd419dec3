"""Atomic output directories, written by one run at a time.

    with outputs.staged(DIR, wait) as run:      # DIR/_LOCK held (transforms/output_lock.py)
        ... write under run.staging ...         # DIR/.incomplete/RUN_ID/
        run.commit(directories, files, info)    # moved into DIR, then DIR/_SUCCESS

A run first takes DIR's lock, so that a second run into DIR fails at once naming the first
(or waits for it), then writes everything under its own `DIR/.incomplete/RUN_ID/`. Once the
pipeline has finished, the driver moves each output into place and writes `DIR/_SUCCESS`
last. A killed run therefore leaves `.incomplete/` (removed by the next run, which holds the
lock, so nothing there is another live run's) and never a `_SUCCESS` that vouches for partial
outputs. Staging and commit use only Beam's FileSystems, so they work on every Beam filesystem.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from apache_beam.io.filesystems import FileSystems

from transforms import output_lock
from transforms.settings import ConfigError

STAGING = ".incomplete"
SUCCESS = "_SUCCESS"


def join(*parts: str) -> str:
    return FileSystems.join(*parts)


def _files_under(directory: str) -> list[str]:
    """Every file below `directory` (none if it does not exist)."""
    if not FileSystems.exists(directory):
        return []
    pattern = join(directory, "**")
    return sorted(m.path for m in FileSystems.match([pattern])[0].metadata_list)


def _delete_tree(path: str) -> None:
    if FileSystems.exists(path):
        FileSystems.delete([path])


@dataclass
class StagedRun:
    """A run that holds its output's lock and writes under `staging` until it commits."""

    output: str
    staging: str
    lock: output_lock.Lock

    def commit(
        self, directories: list[str], files: list[str], success_info: dict, absent: tuple[str, ...] = ()
    ) -> None:
        """Moves the named directories and files from staging into the output, removes those named
        `absent` (an earlier run's outputs that this run does not make), then marks success."""
        self.lock.check()
        _delete_tree(join(self.output, SUCCESS))
        moves: list[tuple[str, str]] = []
        for name in [*directories, *files, *absent]:
            _delete_tree(join(self.output, name))
        for name in directories:
            source = join(self.staging, name)
            FileSystems.mkdirs(join(self.output, name))
            # A run without dead letters writes no files under dead_letter/: it stays empty.
            moves += [(path, join(self.output, name) + path[len(source) :]) for path in _files_under(source)]
        moves += [(join(self.staging, name), join(self.output, name)) for name in files]
        if moves:
            sources, destinations = zip(*moves)
            FileSystems.rename(list(sources), list(destinations))
        _delete_tree(join(self.output, STAGING))
        with FileSystems.create(join(self.output, SUCCESS)) as handle:
            handle.write(json.dumps(success_info, indent=2, sort_keys=True).encode() + b"\n")


@contextmanager
def staged(output: str, wait: bool = False) -> Iterator[StagedRun]:
    """Holds OUTPUT's lock for the block, clears what earlier, unfinished runs left behind, and
    yields this run with its staging directory (created). Raises output_lock.OutputError where another
    run holds the lock (with `wait`, waits for it), or OUTPUT is a file or cannot be written."""
    with output_lock.hold(output, wait) as lock:
        _delete_tree(join(output, STAGING))
        staging = join(output, STAGING, lock.holder.run_id)
        FileSystems.mkdirs(staging)
        yield StagedRun(output, staging, lock)


def is_complete(output: str) -> bool:
    return FileSystems.exists(join(output, SUCCESS))


def docs_pattern(docs: str) -> str:
    """The files of prepare's DIR/docs."""
    return join(docs, "*.parquet")


def docs_files(docs: str, field: str) -> list[str]:
    """Prepare's DIR/docs/*.parquet files, sorted; raises ConfigError naming `field` where
    there are none or they cannot be listed."""
    try:
        found = FileSystems.match([docs_pattern(docs)])[0].metadata_list
    except Exception as err:  # Beam raises BeamIOError with the filesystem's reason
        raise ConfigError(f"{field}: {docs!r} cannot be listed: {err}") from None
    if not found:
        raise ConfigError(f"{field}: {docs!r} holds no *.parquet file (expected prepare's DIR/docs)")
    return sorted(m.path for m in found)


def prepare_output_of(docs: str) -> str:
    """The prepare output directory that holds DIR/docs: DIR (as written, on any filesystem)."""
    return docs.rstrip("/").rpartition("/")[0]


def prepared_sources(docs: str) -> tuple[str, list[str]] | None:
    """(path of prepare's stats.json beside DIR/docs, the sources it counts), or None where there
    is none (documents written some other way)."""
    stats = join(prepare_output_of(docs), "stats.json")
    if not FileSystems.exists(stats):
        return None
    with FileSystems.open(stats) as handle:
        return stats, sorted(json.load(handle)["sources"])
