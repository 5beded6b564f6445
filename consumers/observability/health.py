"""Liveness and readiness of the consumer processes, judged from their own gauges.

Why from the gauges: the processes that poll are not the one that answers HTTP (the
supervisor serves the port for all of them, ``consumers.observability.server``); each process
writes when its poll loop last turned and whether it is ready, and the answer is read back
from there. Pure: the samples and the clock come in, a verdict goes out.

- **live**: every process's loop turned within ``stale_after`` seconds (the poll interval
  Kafka itself allows before it throws a member out). An outage does not make a process
  dead: its loop keeps turning while it waits. A wedged loop does, and a restart may help.
- **ready**: every group has a process that holds partitions and whose last batch reached
  Postgres. Not ready means: do not count on this group's progress right now.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

LAST_TURN = "outbox_consumer_last_turn_timestamp_seconds"
READY = "outbox_consumer_ready"


@dataclass(frozen=True)
class Verdict:
    ok: bool
    detail: dict[str, Any] = field(default_factory=dict)


def _per_process(samples: Iterable[Any], name: str) -> dict[tuple[str, str], float]:
    """(group, pid) -> value for the samples named ``name`` (pid "self" outside
    multiprocess mode)."""
    return {
        (s.labels["group"], s.labels.get("pid", "self")): s.value
        for s in samples
        if s.name == name and "group" in s.labels
    }


def live(samples: list[Any], now: float, stale_after: float) -> Verdict:
    turns = _per_process(samples, LAST_TURN)
    stale = {
        f"{g}/{pid}": round(now - at, 1) for (g, pid), at in turns.items() if now - at > stale_after
    }
    detail: dict[str, Any] = {"processes": len(turns), "stale_after_seconds": stale_after}
    if stale:
        detail["stale_seconds"] = stale
    return Verdict(bool(turns) and not stale, detail)


def ready(samples: list[Any], groups: Iterable[str]) -> Verdict:
    flags = _per_process(samples, READY)
    by_group = {
        g: sum(1 for (group, _), v in flags.items() if group == g and v >= 1) for g in groups
    }
    waiting = sorted(g for g, n in by_group.items() if n == 0)
    detail: dict[str, Any] = {"ready_processes": by_group}
    if waiting:
        detail["not_ready"] = waiting
    return Verdict(not waiting, detail)
