"""The paths a shard manifest names are relative to its directory, and must stay inside it.

A manifest is a file anyone can edit or hand over: `verify` and the trainer open the files it
names, so an entry such as `../other/secret` or `/etc/passwd` must be refused, not read. Checked on
the text of the path alone, so the same rule holds for local directories and gs:// ones alike.
Beam-free: the trainer checks with it where only torch is installed.
"""

from __future__ import annotations

from pathlib import PurePosixPath


def leaves_directory(relative: object) -> bool:
    """True where `relative` is not a non-empty relative path that stays below its directory:
    absolute, with a scheme (gs://...), with a `..` part, with a backslash, or not a string."""
    if not isinstance(relative, str) or not relative or "\\" in relative or "://" in relative:
        return True
    path = PurePosixPath(relative)
    return path.is_absolute() or ".." in path.parts


def refusal(relative: object) -> str:
    """The one-line reason a manifest path is refused, naming it."""
    return f"{relative!r}: a manifest path must be relative and stay inside the shard directory; refused"
