"""Which Kafka nodes and Connect workers the stack runs, and where each listens.

Two topologies, one renderer (``stack.jvm``):

- ``single`` (the default of ``make up``): one KRaft node acting as broker and controller, one
  Connect worker, replication factor 1: what a laptop needs to run the pipeline.
- ``ha`` (``make up TOPOLOGY=ha``): three KRaft nodes, each broker *and* controller (the
  quorum is the three of them; docs/scaling.md says why combined on one machine and what
  production does apart), two Connect workers in one group; replication factor 3 and
  ``min.insync.replicas=2`` for every topic, Kafka's own included, so one node may die with
  nothing lost and writes going on, and a second one stops writes rather than risk a loss.

Every client is given every broker (``bootstrap``), so any one of them can be down when it
starts. Natively the nodes differ by port and data directory; in compose by service name, each
container told which node it is (``STACK_KAFKA_NODE``, ``STACK_CONNECT_WORKER``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from stack.settings import StackSettings

SINGLE, HA = "single", "ha"
# A dead Connect worker's task waits this long for the worker to come back before another
# worker takes it (Connect's default is five minutes: a task UNASSIGNED that long).
HA_REBALANCE_DELAY_MS = 5_000
CONNECT_DEFAULT_REBALANCE_DELAY_MS = 300_000


@dataclass(frozen=True)
class Broker:
    """One KRaft node: broker and controller in one process."""

    node_id: int
    name: str  # the part's name: "kafka" alone, "kafka-1".. in the HA topology
    host: str
    port: int
    controller_port: int
    metrics_port: int

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class Worker:
    """One Kafka Connect worker of the ``outbox-connect`` group."""

    name: str  # "connect" alone, "connect-1".. in the HA topology
    url: str
    metrics_port: int

    @property
    def host(self) -> str:
        return self.url.split("//", 1)[-1].rsplit(":", 1)[0]

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1].rstrip("/"))


@dataclass(frozen=True)
class Topology:
    name: str
    brokers: tuple[Broker, ...]
    workers: tuple[Worker, ...]
    kafka_heap: str
    connect_heap: str
    rebalance_delay_ms: int

    @property
    def replication_factor(self) -> int:
        return min(3, len(self.brokers))

    @property
    def min_insync_replicas(self) -> int:
        """With three replicas, two must have a write before it is acknowledged: one node can
        be lost without losing an acknowledged write, and writes go on without it."""
        return 2 if self.replication_factor >= 3 else 1

    @property
    def bootstrap(self) -> str:
        return ",".join(b.address for b in self.brokers)

    @property
    def voters(self) -> str:
        """``controller.quorum.voters``: every node is a voter (combined mode)."""
        return ",".join(f"{b.node_id}@{b.host}:{b.controller_port}" for b in self.brokers)

    def broker(self, node: int | str) -> Broker:
        for b in self.brokers:
            if node in (b.node_id, b.name):
                return b
        raise KeyError(f"no Kafka node {node!r} in the {self.name} topology")

    def worker(self, name: str) -> Worker:
        for w in self.workers:
            if name in (w.name, w.url):
                return w
        raise KeyError(f"no Connect worker {name!r} in the {self.name} topology")


def listed(text: str, what: str) -> list[str]:
    items = [item.strip() for item in text.split(",") if item.strip()]
    if not items:
        raise ValueError(f"{what} is empty")
    return items


def ports(text: str, what: str, count: int) -> list[int]:
    items = listed(text, what)
    if len(items) != count or not all(i.isdigit() for i in items):
        raise ValueError(f"{what} must list {count} port numbers, got {text!r}")
    return [int(i) for i in items]


def of(settings: StackSettings) -> Topology:
    """The topology these settings describe (``STACK_TOPOLOGY``; the HA one's addresses from
    ``KAFKA_HA_*`` and ``CONNECT_HA_*``)."""
    if settings.stack_topology == SINGLE:
        return Topology(
            SINGLE,
            (
                Broker(
                    1,
                    "kafka",
                    settings.kafka_host,
                    settings.kafka_port,
                    settings.kafka_controller_port,
                    settings.kafka_metrics_port,
                ),
            ),
            (Worker("connect", settings.connect_url.split(",")[0], settings.connect_metrics_port),),
            settings.kafka_heap,
            settings.connect_heap,
            settings.connect_rebalance_delay_ms or CONNECT_DEFAULT_REBALANCE_DELAY_MS,
        )
    addresses = listed(settings.kafka_ha_bootstrap_servers, "KAFKA_HA_BOOTSTRAP_SERVERS")
    controllers = ports(
        settings.kafka_ha_controller_ports, "KAFKA_HA_CONTROLLER_PORTS", len(addresses)
    )
    metrics = ports(settings.kafka_ha_metrics_ports, "KAFKA_HA_METRICS_PORTS", len(addresses))
    urls = listed(settings.connect_ha_urls, "CONNECT_HA_URLS")
    worker_metrics = ports(settings.connect_ha_metrics_ports, "CONNECT_HA_METRICS_PORTS", len(urls))
    brokers = tuple(
        Broker(i, f"kafka-{i}", addr.rsplit(":", 1)[0], int(addr.rsplit(":", 1)[1]), c, m)
        for i, (addr, c, m) in enumerate(zip(addresses, controllers, metrics, strict=True), 1)
    )
    workers = tuple(
        Worker(f"connect-{i}", url, m)
        for i, (url, m) in enumerate(zip(urls, worker_metrics, strict=True), 1)
    )
    return Topology(
        HA,
        brokers,
        workers,
        settings.kafka_ha_heap,
        settings.connect_ha_heap,
        settings.connect_rebalance_delay_ms or HA_REBALANCE_DELAY_MS,
    )
