"""The reads of Kafka that several parts share, written once: a topic's end offsets (the
benchmark, the chaos checker, the tests) and a group's live members (the consumers' watchdog,
``make rebuild``'s refusal). Each opens a short-lived client as the principal it is given and
closes it; a ``KafkaError`` reaches the caller, who decides what it means (an outage to wait
out for the consumers, "unreachable" for an operator's tool)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

from contract.kafka import KafkaAccess


def end_offsets(access: KafkaAccess, topic: str, *, wait: float = 10.0) -> dict[int, int]:
    """Partition -> end offset of ``topic``. A topic created a moment ago may have no metadata
    yet: its partitions are looked for up to ``wait`` seconds (an unknown topic: ``{}``)."""
    c = KafkaConsumer(**access.client())
    try:
        deadline = time.monotonic() + wait
        while not (known := c.partitions_for_topic(topic)) and time.monotonic() < deadline:
            c.topics()  # refresh metadata
            time.sleep(0.2)
        parts = [TopicPartition(topic, p) for p in sorted(known or ())]
        return {tp.partition: offset for tp, offset in c.end_offsets(parts).items()}
    finally:
        c.close()


@dataclass(frozen=True)
class Member:
    client_id: str
    host: str

    def __str__(self) -> str:
        return f"{self.client_id}@{self.host}"


def group_members(access: KafkaAccess, group: str, **config: Any) -> list[Member]:
    """The group's live members, as its coordinator sees them (empty when nobody runs it).
    ``config``: for the admin client (an operator's tool waits less for a broker)."""
    admin = KafkaAdminClient(**access.client(client_id="group-members", **config))
    try:
        described = admin.describe_groups([group]).get(group, {})
    finally:
        admin.close()
    return [
        Member(str(m.get("client_id", "?")), str(m.get("client_host", "?")).lstrip("/"))
        for m in described.get("members") or []
    ]
