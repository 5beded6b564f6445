"""Small Kafka helpers for the toolkit, each raising ``Unreachable`` instead of hanging."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any, TypeVar

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.errors import KafkaError

from contract.kafka import KafkaAccess
from ops.errors import Unreachable

T = TypeVar("T", KafkaAdminClient, KafkaConsumer)

# kafka-python waits 30 s for a broker by default; an operator wants the answer sooner.
BOOTSTRAP_TIMEOUT_MS = 5000


@contextmanager
def _guarded(bootstrap: str, make: Callable[[], T]) -> Iterator[T]:
    """Build a Kafka client and use it; any Kafka error becomes ``Unreachable``."""
    try:
        client = make()
    except KafkaError as exc:
        raise Unreachable("Kafka", bootstrap, repr(exc)) from exc
    try:
        yield client
    except KafkaError as exc:
        raise Unreachable("Kafka", bootstrap, repr(exc)) from exc
    finally:
        client.close()


def admin(access: KafkaAccess) -> AbstractContextManager[KafkaAdminClient]:
    return _guarded(
        access.bootstrap_servers,
        lambda: KafkaAdminClient(
            **access.client(
                request_timeout_ms=5000, bootstrap_timeout_ms=BOOTSTRAP_TIMEOUT_MS, client_id="ops"
            )
        ),
    )


def consumer(access: KafkaAccess, **config: Any) -> AbstractContextManager[KafkaConsumer]:
    return _guarded(
        access.bootstrap_servers,
        lambda: KafkaConsumer(
            **access.client(),
            enable_auto_commit=False,
            request_timeout_ms=10_000,
            bootstrap_timeout_ms=BOOTSTRAP_TIMEOUT_MS,
            client_id="ops",
            **config,
        ),
    )


def partitions(c: KafkaConsumer, topic: str) -> list[TopicPartition]:
    found = c.partitions_for_topic(topic)
    if not found:
        raise KeyError(f"no topic {topic!r}")
    return [TopicPartition(topic, p) for p in sorted(found)]
