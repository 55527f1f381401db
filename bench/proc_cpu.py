"""CPU time and memory of processes read from /proc: less sensitive to a busy machine than wall time.

A `CpuMeter` samples a changing set of processes (gunicorn workers come and go, PostgreSQL backends
belong to whoever holds a pooled connection) every quarter second, so a process that exits during
a phase still counts up to its last sample.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float | None:
    """utime + stime of one process, or None when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / TICKS  # fields 14 and 15 of proc(5), counted after ")"


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except FileNotFoundError:
        return None
    return None


def children(pid: int) -> list[int]:
    """Direct children (gunicorn workers of a master)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        if parent == pid:
            found.append(int(entry.name))
    return found


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


class CpuMeter:
    """CPU seconds used by a group of processes between start() and stop()."""

    def __init__(self, pids: Callable[[], list[int]], interval: float = 0.25) -> None:
        self._pids = pids
        self._interval = interval
        self._first: dict[int, float] = {}
        self._last: dict[int, float] = {}
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def _sample(self, *, baseline: bool) -> None:
        for pid in self._pids():
            seconds = cpu_seconds(pid)
            if seconds is None:
                continue
            # A process seen for the first time during the phase started during it: all its CPU counts.
            self._first.setdefault(pid, seconds if baseline else 0.0)
            self._last[pid] = seconds

    def _run(self) -> None:
        while not self._stopping.wait(self._interval):
            self._sample(baseline=False)

    def start(self) -> CpuMeter:
        self._sample(baseline=True)
        self._thread = threading.Thread(target=self._run, name="cpu-meter", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> float:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join()
        self._sample(baseline=False)
        return sum(self._last[pid] - self._first[pid] for pid in self._last)
