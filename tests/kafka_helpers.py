"""Reading what Debezium wrote, for integration and end-to-end tests."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from kafka import KafkaConsumer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord

from consumers.settings import ConsumerSettings
from contract.groups import CONSUMER_GROUPS
from contract.kafka import KafkaAccess
from ops.lag import group_lag
from stack import connect, kafka_auth
from stack.rest import ConnectRest
from stack.settings import StackSettings
from tests.conftest import ROOT

ORDER_TOPIC = "outbox.event.order"


def register_connector(rest: ConnectRest) -> None:
    config = json.loads((ROOT / "connectors/orders-outbox.json").read_text())
    assert connect.register(rest, config).running


def wait_for_topic(c: KafkaConsumer, topic: str, timeout: float = 60) -> list[TopicPartition]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        parts = c.partitions_for_topic(topic)
        if parts:
            return [TopicPartition(topic, p) for p in sorted(parts)]
        c.topics()  # refresh metadata
        time.sleep(0.5)
    raise AssertionError(f"topic {topic} never appeared")


def read_until(
    c: KafkaConsumer, match: Callable[[ConsumerRecord], bool], timeout: float = 60
) -> ConsumerRecord:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for msgs in c.poll(timeout_ms=500).values():
            for m in msgs:
                if match(m):
                    return m
    raise AssertionError("message not seen in time")


def headers_of(m: ConsumerRecord) -> dict[str, Any]:
    return {k: v.decode() if v is not None else None for k, v in m.headers}


def grant(admin: KafkaAccess, settings: ConsumerSettings, group: str, topic: str) -> None:
    """A test's own consumer group gets its principal and ACLs, as `make up` gives the
    stack's groups theirs (without them it would wait for Kafka to let it in, for good)."""
    kafka_auth.grant_group(admin, settings.kafka_for(group), group, topic, settings.dlq_prefix)


def start_at_the_end(access: KafkaAccess, topic: str, group: str) -> None:
    """Commit ``topic``'s end offsets for ``group``: it reads only what comes next."""
    from kafka.structs import OffsetAndMetadata

    c = KafkaConsumer(**access.client(), group_id=group, enable_auto_commit=False)
    try:
        tps = [TopicPartition(topic, p) for p in c.partitions_for_topic(topic) or ()]
        c.assign(tps)
        ends = c.end_offsets(tps)
        c.commit({tp: OffsetAndMetadata(off, "", -1) for tp, off in ends.items()})
    finally:
        c.close()


def caught_up(
    settings: StackSettings, groups: list[str] | None = None, timeout: float = 180
) -> None:
    """Wait until every group (default: every declared one) has no lag left."""
    names = groups or sorted(CONSUMER_GROUPS)
    deadline = time.monotonic() + timeout
    while any(r.lag for r in group_lag(settings.kafka_as("admin"), names)):
        assert time.monotonic() < deadline, f"{names} did not catch up in {timeout:.0f}s"
        time.sleep(1)
