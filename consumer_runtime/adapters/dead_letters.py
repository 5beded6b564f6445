"""Dead letters in Kafka, the adapter of the ``DeadLetterSink`` port: the original key, bytes
and headers, plus why and where it failed.

One dead-letter topic per consumer group (``dlq.<group>``), so a group's failures can be
replayed to that group alone once the cause is fixed.

A record that can never be written as it is (a null key *and* a null value, which Kafka
clients refuse; a value that with the dead-letter headers exceeds the producer's or broker's
size limit) is still dead-lettered, in a reduced form: the value left out, the key kept (or
the origin when there is none), and the reason, origin, original size and what was omitted in
headers. The partition moves on and nothing is lost silently: the original stays in the
source topic at the offset the headers name, for as long as its retention keeps it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from kafka.errors import KafkaError

from consumer_runtime.causes import UNWRITABLE_RECORD, Cause, kafka_cause
from consumer_runtime.errors import Outage
from consumer_runtime.message import Message
from contract import headers as h
from contract.topics import DLQ_PREFIX, dlq_topic

# Headers of the original kept in a reduced dead letter: small, and what an operator looks for.
KEPT_WHEN_REDUCED = (h.EVENT_ID, h.EVENT_TYPE, h.SCHEMA_VERSION, h.IDEMPOTENCY_KEY, h.TRACEPARENT)
MAX_KEY_BYTES = 1024
MAX_KEPT_HEADER_BYTES = 256


def dead_letter_headers(
    m: Message, group: str, reason: str, now: datetime
) -> list[tuple[str, bytes]]:
    """Original headers (minus an earlier dead-lettering's) plus where and why it failed."""
    # kafka-python cannot produce a null header value; leaving it out reads the same.
    kept = [(k, v) for k, v in m.headers if k not in h.DLQ_HEADERS and v is not None]
    return kept + h.encode_headers(
        {
            h.DLQ_REASON: reason[:4000],
            h.DLQ_HANDLER: group,
            h.DLQ_TOPIC: m.topic,
            h.DLQ_PARTITION: str(m.partition),
            h.DLQ_OFFSET: str(m.offset),
            h.DLQ_FAILED_AT: now.isoformat(),
        }
    )


def reduced(
    m: Message, group: str, reason: str, now: datetime
) -> tuple[bytes, None, list[tuple[str, bytes]]]:
    """The writable form of a dead letter whose original cannot be written: key, no value,
    the small headers of the original and the dead-letter headers."""
    key_ok = m.key is not None and len(m.key) <= MAX_KEY_BYTES
    omitted = "value" if key_ok else "key and value"
    full = dead_letter_headers(m, group, reason, now)
    headers = [
        (k, v if k in h.DLQ_HEADERS else v[:MAX_KEPT_HEADER_BYTES])
        for k, v in full
        if k in KEPT_WHEN_REDUCED or k in h.DLQ_HEADERS
    ]
    headers += h.encode_headers(
        {
            h.DLQ_OMITTED: omitted,
            h.DLQ_ORIGINAL_SIZE: "null" if m.value is None else str(len(m.value)),
        }
    )
    key = m.key if key_ok and m.key is not None else m.where.encode()
    return key, None, headers


class KafkaDeadLetterSink:
    """``timeout``: how long one send may wait for the broker's acknowledgement. It runs
    inside the batch's open transaction, so it stays below the session's idle bound."""

    def __init__(
        self,
        producer: Any,
        prefix: str = DLQ_PREFIX,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        timeout: float = 5.0,
    ) -> None:
        self._producer = producer
        self._prefix = prefix
        self._clock = clock
        self._timeout = timeout

    def send(self, message: Message, group: str, reason: str) -> None:
        m, now = message, self._clock()
        try:
            self._send(group, m.key, m.value, dead_letter_headers(m, group, reason, now))
        except UNWRITABLE_RECORD as exc:
            why = f"{reason}; unwritable as is: {exc!r}"
            self._send(group, *reduced(m, group, why, now))

    def _send(
        self,
        group: str,
        key: bytes | None,
        value: bytes | None,
        headers: list[tuple[str, bytes]],
    ) -> None:
        try:
            self._producer.send(
                dlq_topic(group, self._prefix), key=key, value=value, headers=headers
            ).get(timeout=self._timeout)
        except KafkaError as exc:
            if kafka_cause(exc) is Cause.INFRASTRUCTURE:
                raise Outage(f"dead-letter topic not writable: {exc!r}") from exc
            raise
