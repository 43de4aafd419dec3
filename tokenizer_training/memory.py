"""Resident memory of this process: now, and its peak over a phase (Linux /proc; elsewhere the
peak since the process began). Light on imports, so that a benchmark's baseline process can use it."""

from __future__ import annotations

import resource


def _proc_status_mb(field: str) -> float | None:
    try:
        with open("/proc/self/status") as status:
            line = next(line for line in status if line.startswith(field + ":"))
        return int(line.split()[1]) * 1024 / 1e6  # kB
    except (OSError, StopIteration):
        return None


def rss_mb() -> float | None:
    """Resident memory of this process now, MB, where /proc tells it (Linux)."""
    return _proc_status_mb("VmRSS")


def reset_peak_rss() -> None:
    """Starts a new peak for peak_rss_mb, where the system allows it (Linux)."""
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
    except OSError:
        pass


def peak_rss_mb() -> float:
    """Peak resident memory of this process since the last reset_peak_rss (else since it began), MB."""
    peak = _proc_status_mb("VmHWM")
    return peak if peak is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6
