"""``status``'s view of the Kafka cluster: each broker the topology expects, whether the cluster
counts it (registered and not fenced: a broker that died is fenced by the controller once its
session times out), and the partitions that are not fully replicated.

Why each figure: an under-replicated partition has lost a copy (a broker is down or slow) and
writes go on; one under ``min.insync.replicas`` refuses ``acks=all`` writes (the connector waits,
nothing is lost); an offline one has no leader at all (unclean election is off: it waits for a
replica that was in sync). On one broker, the first two cannot happen and the third is the
broker being down.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ops.errors import Refused, Unreachable
from stack.settings import StackSettings


@dataclass
class ClusterView:
    brokers: list[dict[str, Any]] = field(default_factory=list)
    partitions: int = 0
    under_replicated: list[str] = field(default_factory=list)  # "topic-partition"
    under_min_isr: list[str] = field(default_factory=list)
    offline: list[str] = field(default_factory=list)


def assess(
    expected: list[tuple[int, str]],
    cluster: dict[str, Any],
    topics: list[dict[str, Any]],
    min_isr: int,
) -> ClusterView:
    """``expected``: (node id, address) of each broker of the topology; ``cluster`` and
    ``topics``: what kafka-python's ``describe_cluster`` and ``describe_topics`` answer."""
    known = {int(b["broker_id"]): b for b in cluster.get("brokers") or []}
    view = ClusterView()
    for node_id, address in expected:
        found = known.get(node_id)
        state = "up" if found and not found.get("is_fenced") else "fenced" if found else "absent"
        view.brokers.append({"node_id": node_id, "address": address, "state": state})
    for topic in topics:
        for p in topic.get("partitions") or []:
            name = f"{topic['name']}-{p['partition_index']}"
            replicas, isr = len(p.get("replica_nodes") or []), len(p.get("isr_nodes") or [])
            view.partitions += 1
            if p.get("leader_id", -1) < 0:
                view.offline.append(name)
            if isr < replicas:
                view.under_replicated.append(name)
            if isr < min(min_isr, replicas):
                view.under_min_isr.append(name)
    return view


def judge(view: ClusterView, problems: list[str], warnings: list[str]) -> None:
    """A broker down or a partition unwritable is a problem; a lost copy a warning."""
    for b in view.brokers:
        if b["state"] != "up":
            problems.append(f"Kafka broker {b['node_id']} at {b['address']}: {b['state']}")
    if view.offline:
        problems.append(f"{len(view.offline)} partition(s) offline: {_some(view.offline)}")
    if view.under_min_isr:
        problems.append(
            f"{len(view.under_min_isr)} partition(s) under min.insync.replicas, writes "
            f"refused: {_some(view.under_min_isr)}"
        )
    if view.under_replicated:
        warnings.append(
            f"{len(view.under_replicated)} partition(s) under-replicated: "
            f"{_some(view.under_replicated)}"
        )


def summary(view: ClusterView) -> list[str]:
    """The lines ``make status`` prints (rich markup); none when the cluster was not read."""
    if not view.brokers:
        return []
    brokers = ", ".join(
        f"{b['node_id']} {b['address']} "
        + (b["state"] if b["state"] == "up" else f"[red]{b['state']}[/]")
        for b in view.brokers
    )
    return [
        f"kafka brokers: {brokers}",
        f"partitions: {view.partitions}, under-replicated {len(view.under_replicated)}, "
        f"under min.insync.replicas {len(view.under_min_isr)}, offline {len(view.offline)}",
    ]


def _some(names: list[str], at_most: int = 5) -> str:
    more = len(names) - at_most
    return ", ".join(sorted(names)[:at_most]) + (f" and {more} more" if more > 0 else "")


def observe(settings: StackSettings, problems: list[str], warnings: list[str]) -> ClusterView:
    """The cluster as the brokers describe it (an unreachable cluster is a problem)."""
    from ops.kafka_io import admin

    topology = settings.topology
    expected = [(b.node_id, b.address) for b in topology.brokers]
    try:
        with admin(settings.kafka_as("admin")) as a:
            view = assess(
                expected, a.describe_cluster(), a.describe_topics(), topology.min_insync_replicas
            )
    except (Unreachable, Refused) as exc:
        problems.append(str(exc))
        return ClusterView()
    judge(view, problems, warnings)
    return view
