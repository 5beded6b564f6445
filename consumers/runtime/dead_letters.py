"""Dead letters: the original key, bytes and headers, plus why and where it failed.

One dead-letter topic per consumer group (``dlq.<group>``), so a group's failures can be
replayed to that group alone once the cause is fixed.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol

from kafka.errors import KafkaError

from consumers.runtime.errors import Outage
from consumers.runtime.message import Delivery
from contract import headers as h

DLQ_HEADERS = (
    h.DLQ_REASON,
    h.DLQ_HANDLER,
    h.DLQ_TOPIC,
    h.DLQ_PARTITION,
    h.DLQ_OFFSET,
    h.DLQ_FAILED_AT,
)


class DeadLetterSink(Protocol):
    def send(self, delivery: Delivery, reason: str) -> None:
        """Store the message with ``reason``; durable when it returns. Raises ``Outage`` if the
        dead-letter store is unreachable (the batch is then retried, nothing is skipped)."""


def dlq_topic(prefix: str, group: str) -> str:
    return f"{prefix}{group}"


def dead_letter_headers(delivery: Delivery, reason: str, now: datetime) -> list[tuple[str, bytes]]:
    """Original headers (minus an earlier dead-lettering's) plus where and why it failed."""
    m = delivery.message
    # kafka-python cannot produce a null header value; leaving it out reads the same.
    kept = [(k, v) for k, v in m.headers if k not in DLQ_HEADERS and v is not None]
    return kept + h.encode_headers(
        {
            h.DLQ_REASON: reason[:4000],
            h.DLQ_HANDLER: delivery.group,
            h.DLQ_TOPIC: m.topic,
            h.DLQ_PARTITION: str(m.partition),
            h.DLQ_OFFSET: str(m.offset),
            h.DLQ_FAILED_AT: now.isoformat(),
        }
    )


class KafkaDeadLetterSink:
    def __init__(
        self, producer: Any, prefix: str, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self._producer = producer
        self._prefix = prefix
        self._clock = clock

    def send(self, delivery: Delivery, reason: str) -> None:
        m = delivery.message
        try:
            self._producer.send(
                dlq_topic(self._prefix, delivery.group),
                key=m.key,
                value=m.value,
                headers=dead_letter_headers(delivery, reason, self._clock()),
            ).get(timeout=30)
        except KafkaError as exc:
            raise Outage(f"dead-letter topic not writable: {exc!r}") from exc
