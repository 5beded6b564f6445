"""Who uses the CPU: seconds of CPU per stack part over a measured window, read from /proc.

A part's CPU is the sum over its process tree (Postgres' backends, the consumer supervisor's
children), plus what they reaped (short-lived backends). The benchmark process itself
is the load generator. Dividing by the window's wall time gives cores in use: on a 2-core
machine, parts adding up to ~2.0 mean the machine, not one part, is the bound.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")
LOAD_GENERATOR = "bench (load generator)"


def _stat(pid: int) -> list[str] | None:
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None


def tree_cpu_seconds(root: int) -> float:
    """utime + stime of the process and all its live descendants, plus what each of them
    reaped (cutime + cstime: Postgres' ended backends)."""
    children: dict[int, list[int]] = {}
    times: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        fields = _stat(int(entry.name))
        if fields is None:
            continue
        pid = int(entry.name)
        children.setdefault(int(fields[1]), []).append(pid)
        # fields[0] is the state; utime, stime, cutime, cstime are stat fields 14-17.
        times[pid] = sum(int(f) for f in fields[11:15])
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += times.get(pid, 0)
        todo += children.get(pid, [])
    return total / TICKS


def children_count(parent: int) -> int:
    """How many live processes ``parent`` has (Postgres' backends, for the postmaster)."""
    count = 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            count += fields is not None and int(fields[1]) == parent
    return count


@dataclass(frozen=True)
class Snapshot:
    wall: float
    seconds: dict[str, float]


def snapshot(parts: dict[str, Callable[[], int | None]]) -> Snapshot:
    """CPU seconds so far of each named part (given as a pid-file reader) and of this
    process; a part not running counts as zero."""
    seconds = {}
    for name, pid in parts.items():
        leader = pid()
        seconds[name] = tree_cpu_seconds(leader) if leader else 0.0
    own = os.times()
    seconds[LOAD_GENERATOR] = own.user + own.system
    return Snapshot(time.monotonic(), seconds)


def cores_used(before: Snapshot, after: Snapshot) -> dict[str, float]:
    """Cores each part kept busy between two snapshots (CPU seconds / wall seconds)."""
    wall = max(1e-6, after.wall - before.wall)
    return {
        name: round(max(0.0, after.seconds[name] - before.seconds.get(name, 0.0)) / wall, 3)
        for name in after.seconds
    }
