"""Small Kafka helpers for the toolkit, each raising ``Unreachable`` instead of hanging."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.errors import KafkaError

from ops.errors import Unreachable

# kafka-python waits 30 s for a broker by default; an operator wants the answer sooner.
BOOTSTRAP_TIMEOUT_MS = 5000


@contextmanager
def admin(bootstrap: str) -> Iterator[KafkaAdminClient]:
    try:
        client = KafkaAdminClient(
            bootstrap_servers=bootstrap,
            request_timeout_ms=5000,
            bootstrap_timeout_ms=BOOTSTRAP_TIMEOUT_MS,
            client_id="ops",
        )
    except KafkaError as exc:
        raise Unreachable("Kafka", bootstrap, repr(exc)) from exc
    try:
        yield client
    except KafkaError as exc:
        raise Unreachable("Kafka", bootstrap, repr(exc)) from exc
    finally:
        client.close()


@contextmanager
def consumer(bootstrap: str, **config: Any) -> Iterator[KafkaConsumer]:
    try:
        c = KafkaConsumer(
            bootstrap_servers=bootstrap,
            enable_auto_commit=False,
            request_timeout_ms=10_000,
            bootstrap_timeout_ms=BOOTSTRAP_TIMEOUT_MS,
            client_id="ops",
            **config,
        )
    except KafkaError as exc:
        raise Unreachable("Kafka", bootstrap, repr(exc)) from exc
    try:
        yield c
    except KafkaError as exc:
        raise Unreachable("Kafka", bootstrap, repr(exc)) from exc
    finally:
        c.close()


def partitions(c: KafkaConsumer, topic: str) -> list[TopicPartition]:
    found = c.partitions_for_topic(topic)
    if not found:
        raise KeyError(f"no topic {topic!r}")
    return [TopicPartition(topic, p) for p in sorted(found)]
