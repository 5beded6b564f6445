"""Small Kafka helpers for the toolkit, each raising its failure by cause (``Unreachable``,
``Refused``, an unknown topic as a bad argument) instead of hanging."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any, NoReturn, TypeVar

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.errors import KafkaError, RetriableError, UnknownTopicOrPartitionError

from contract.cli import BadArgument
from contract.kafka import KafkaAccess
from ops.errors import Refused, Unreachable

T = TypeVar("T", KafkaAdminClient, KafkaConsumer)

# kafka-python waits 30 s for a broker by default; an operator wants the answer sooner.
BOOTSTRAP_TIMEOUT_MS = 5000


def classified(bootstrap: str, exc: KafkaError) -> Exception:
    """A Kafka error by its cause: no answer (retriable: timeouts, connections, a node not
    ready) is ``Unreachable``; an answer that says no (authentication, authorization) is
    ``Refused``; anything else is a bug of the tool, raised as it is, never "not reachable"."""
    if isinstance(exc, UnknownTopicOrPartitionError):
        return BadArgument(f"Kafka at {bootstrap} has no such topic or partition: {exc!r}")
    if isinstance(exc, RetriableError):
        return Unreachable("Kafka", bootstrap, repr(exc))
    if exc.__class__.__name__.endswith(("AuthenticationFailedError", "AuthorizationFailedError")):
        return Refused("Kafka", bootstrap, repr(exc))
    unclassified: Exception = exc
    return unclassified


def _reraise(bootstrap: str, exc: KafkaError) -> NoReturn:
    found = classified(bootstrap, exc)
    if found is exc:
        raise exc
    raise found from exc


@contextmanager
def _guarded(bootstrap: str, make: Callable[[], T]) -> Iterator[T]:
    """Build a Kafka client and use it; a Kafka error is raised as its cause (``classified``)."""
    try:
        client = make()
    except KafkaError as exc:
        _reraise(bootstrap, exc)
    try:
        yield client
    except KafkaError as exc:
        _reraise(bootstrap, exc)
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
        raise BadArgument(f"no topic {topic!r} (make topics lists them)")
    return [TopicPartition(topic, p) for p in sorted(found)]
