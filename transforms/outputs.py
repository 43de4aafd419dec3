"""Atomic output directories.

A job writes everything under `DIR/.incomplete/` and, once the pipeline has
finished, the driver moves each output into place and writes `DIR/_SUCCESS`
last. A killed run therefore leaves `.incomplete/` (removed by the next run)
and never a `_SUCCESS` that vouches for partial outputs. Works on every Beam
filesystem (local, gs://) because it uses only FileSystems.
"""

from __future__ import annotations

import json

from apache_beam.io.filesystems import FileSystems

from transforms.settings import ConfigError

STAGING = ".incomplete"
SUCCESS = "_SUCCESS"


def join(*parts: str) -> str:
    return FileSystems.join(*parts)


def staging_dir(output: str) -> str:
    return join(output, STAGING)


def _files_under(directory: str) -> list[str]:
    """Every file below `directory` (none if it does not exist)."""
    if not FileSystems.exists(directory):
        return []
    pattern = join(directory, "**")
    return sorted(m.path for m in FileSystems.match([pattern])[0].metadata_list)


def _delete_tree(path: str) -> None:
    if FileSystems.exists(path):
        FileSystems.delete([path])


def start(output: str) -> str:
    """Clears what an earlier, unfinished run left behind; returns the staging directory."""
    staging = staging_dir(output)
    _delete_tree(staging)
    FileSystems.mkdirs(staging)
    return staging


def commit(output: str, directories: list[str], files: list[str], success_info: dict) -> None:
    """Moves the named directories and files from staging into `output`, then marks success."""
    staging = staging_dir(output)
    _delete_tree(join(output, SUCCESS))
    moves: list[tuple[str, str]] = []
    for name in directories + files:
        _delete_tree(join(output, name))
    for name in directories:
        source = join(staging, name)
        FileSystems.mkdirs(join(output, name))
        # A run without dead letters writes no files under dead_letter/: it stays empty.
        moves += [(path, join(output, name) + path[len(source) :]) for path in _files_under(source)]
    moves += [(join(staging, name), join(output, name)) for name in files]
    if moves:
        sources, destinations = zip(*moves)
        FileSystems.rename(list(sources), list(destinations))
    _delete_tree(staging)
    with FileSystems.create(join(output, SUCCESS)) as handle:
        handle.write(json.dumps(success_info, indent=2, sort_keys=True).encode() + b"\n")


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
