"""The pure parts of the failover chaos run (``chaos.failover``): which broker leads the event
topic, which node is the active controller, and which fault a duplicate on the topic belongs
to. Kept apart from the faults so that they are unit-tested without a cluster."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

# The KRaft controller's gauge as the JMX exporter names it (stack/conf/jmx-kafka.yml): 1 on
# the active controller, 0 on the other voters.
ACTIVE_CONTROLLER = re.compile(
    r"^kafka_controller_kafkacontroller_activecontrollercount\s+([0-9.eE+-]+)\s*$", re.MULTILINE
)
# What Connect's producers log when a write is refused or unanswered (Kafka's client Sender).
REFUSED = ("NOT_ENOUGH_REPLICAS", "NotEnoughReplicas")
UNANSWERED = ("REQUEST_TIMED_OUT", "TimeoutException")


@dataclass
class Window:
    """One failover injection: the event topic's end offsets when it began (a whole cluster),
    and what it hit and saw."""

    kind: str
    before: dict[int, int]
    note: str = ""


def most_led(topics: list[dict[str, Any]]) -> int | None:
    """The broker leading most of the topic's partitions (ties: the lowest id), as kafka-python's
    ``describe_topics`` answers; None when no partition has a leader."""
    leaders = Counter(
        int(p["leader_id"])
        for t in topics
        for p in t.get("partitions") or []
        if int(p.get("leader_id", -1)) >= 0
    )
    if not leaders:
        return None
    top = max(leaders.values())
    return min(node for node, n in leaders.items() if n == top)


def active_controller(metrics: dict[int, str]) -> int | None:
    """The node whose exporter says it is the active controller; None unless exactly one does
    (an election under way, a node not answering)."""
    active = [
        node
        for node, text in metrics.items()
        if any(float(v) == 1.0 for v in ACTIVE_CONTROLLER.findall(text))
    ]
    return active[0] if len(active) == 1 else None


def duplicates_by_kind(
    copies: Iterable[tuple[str, int, int]], windows: list[Window]
) -> dict[str, int]:
    """``copies``: (event id, partition, offset) of every message on the topic. Every copy of an
    event id after its first is a duplicate, counted for the last kind injected before it was
    written (the window that began latest at or before its offset): a task that re-publishes
    after the cluster looked whole again (Connect revoking it late) still counts for the fault
    that caused it. One before any injection counts for ``before the first fault``."""
    seen: set[str] = set()
    counts: dict[str, int] = {}
    for event_id, partition, offset in sorted(copies, key=lambda c: (c[1], c[2])):
        if event_id not in seen:
            seen.add(event_id)
            continue
        latest = max(
            (
                (w.before[partition], i)
                for i, w in enumerate(windows)
                if w.before.get(partition, offset + 1) <= offset
            ),
            default=None,
        )
        name = windows[latest[1]].kind if latest is not None else "before the first fault"
        counts[name] = counts.get(name, 0) + 1
    return counts


def mentions(text: str, words: tuple[str, ...]) -> int:
    """Lines of a log excerpt naming any of ``words``."""
    return sum(1 for line in text.splitlines() if any(w in line for w in words))
