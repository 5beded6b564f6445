"""``topics``: every topic with its partitions, messages per partition, retention and cleanup
policy, each told apart by kind (order events, dead letters, Connect's own, Debezium
heartbeats, Kafka's)."""

from __future__ import annotations

from dataclasses import dataclass, field

from kafka.admin import ConfigResource, ConfigResourceType

from contract.kafka import KafkaAccess
from contract.topics import is_dlq
from ops.kafka_io import admin, consumer, partitions


@dataclass
class TopicInfo:
    name: str
    kind: str
    partitions: int
    messages: dict[int, int] = field(default_factory=dict)
    retention_ms: int | None = None
    cleanup_policy: str = "delete"  # delete | compact | compact,delete

    @property
    def total(self) -> int:
        return sum(self.messages.values())

    @property
    def retention(self) -> str:
        """How long Kafka keeps a message: by time for ``delete``; a compacted topic keeps
        the newest message of each key however old (its retention.ms does not apply)."""
        if "delete" not in self.cleanup_policy:
            return "latest per key"
        if self.retention_ms is None or self.retention_ms < 0:
            return "forever"
        for unit, ms in (("d", 86_400_000), ("h", 3_600_000), ("min", 60_000), ("s", 1000)):
            if self.retention_ms >= ms:
                return f"{self.retention_ms / ms:g} {unit}"
        return f"{self.retention_ms} ms"


def kind_of(name: str) -> str:
    if name.startswith("outbox.event."):
        return "events"
    if is_dlq(name):
        return "dead letters"
    if name.startswith("connect-"):
        return "connect internal"
    if name.startswith("__debezium-heartbeat"):
        return "heartbeat"
    if name.startswith("__"):
        return "kafka internal"
    return "other"


def list_topics(bootstrap: KafkaAccess) -> list[TopicInfo]:
    with admin(bootstrap) as a:
        names = sorted(a.list_topics())
        configs = a.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, n, None) for n in names],
            config_filter="all",
        )["topic"]
    retention: dict[str, int | None] = {}
    cleanup: dict[str, str] = {}
    for name, entries in configs.items():
        value = (entries.get("retention.ms") or {}).get("value")
        retention[name] = int(value) if value not in (None, "") else None
        cleanup[name] = (entries.get("cleanup.policy") or {}).get("value") or "delete"
    out = []
    with consumer(bootstrap) as c:
        for name in names:
            parts = partitions(c, name)
            begin, end = c.beginning_offsets(parts), c.end_offsets(parts)
            out.append(
                TopicInfo(
                    name,
                    kind_of(name),
                    len(parts),
                    {tp.partition: end[tp] - begin[tp] for tp in parts},
                    retention.get(name),
                    cleanup.get(name, "delete"),
                )
            )
    return out
