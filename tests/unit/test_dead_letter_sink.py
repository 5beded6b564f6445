"""The dead-letter sink: a record that can never be written as it is goes out reduced (its
value left out, origin and size in headers); a broker that does not answer is an outage."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from kafka import errors as kafka_errors

from consumer_runtime.adapters.dead_letters import KafkaDeadLetterSink, dead_letter_headers
from consumer_runtime.errors import Outage
from consumer_runtime.message import Message

NOW = datetime(2026, 11, 30, tzinfo=UTC)


class _Sent:
    def get(self, timeout: float) -> None:
        return None


class FakeProducer:
    """Refuses what kafka-python refuses: no key and no value, or more than ``limit`` bytes."""

    def __init__(self, limit: int = 1000, down: bool = False) -> None:
        self.limit, self.down = limit, down
        self.sent: list[tuple[str, bytes | None, bytes | None, dict[str, bytes]]] = []

    def send(self, topic: str, key: Any, value: Any, headers: Any) -> _Sent:
        if self.down:
            raise kafka_errors.KafkaTimeoutError("Failed to update metadata after 5.0 secs.")
        if key is None and value is None:
            raise ValueError("Need at least one: key or value")
        size = len(key or b"") + len(value or b"") + sum(len(k) + len(v) for k, v in headers)
        if size > self.limit:
            raise kafka_errors.MessageSizeTooLargeError(f"{size} bytes")
        self.sent.append((topic, key, value, dict(headers)))
        return _Sent()


def _message(key: bytes | None, value: bytes | None) -> Message:
    return Message("outbox.event.order", 2, 41, key, value, (("event_type", b"OrderPlaced"),))


def test_a_writable_dead_letter_keeps_key_value_and_headers() -> None:
    producer = FakeProducer()
    KafkaDeadLetterSink(producer, "dlq.", clock=lambda: NOW).send(
        _message(b"k", b"v"), "inventory", "x"
    )
    [(topic, key, value, headers)] = producer.sent
    assert (topic, key, value) == ("dlq.inventory", b"k", b"v")
    assert headers["dlq.reason"] == b"x"
    assert "dlq.omitted" not in headers


def test_a_null_record_is_dead_lettered_under_its_origin() -> None:
    producer = FakeProducer()
    KafkaDeadLetterSink(producer, "dlq.", clock=lambda: NOW).send(
        _message(None, None), "inventory", "poison"
    )
    [(_, key, value, headers)] = producer.sent
    assert key == b"outbox.event.order[2]@41"
    assert value is None
    assert headers["dlq.omitted"] == b"key and value"
    assert headers["dlq.original_size"] == b"null"
    assert headers["dlq.reason"].startswith(b"poison; unwritable as is: ValueError")
    assert (headers["dlq.topic"], headers["dlq.offset"]) == (b"outbox.event.order", b"41")


def test_an_oversized_record_is_dead_lettered_without_its_value() -> None:
    producer = FakeProducer(limit=1000)
    KafkaDeadLetterSink(producer, "dlq.", clock=lambda: NOW).send(
        _message(b"order-1", b"x" * 5000), "inventory", "poison"
    )
    [(_, key, value, headers)] = producer.sent
    assert (key, value) == (b"order-1", None)
    assert headers["dlq.omitted"] == b"value"
    assert headers["dlq.original_size"] == b"5000"
    assert headers["event_type"] == b"OrderPlaced"  # small original headers are kept
    assert b"MessageSizeTooLargeError" in headers["dlq.reason"]


def test_a_broker_that_does_not_answer_is_an_outage_not_a_reduced_letter() -> None:
    producer = FakeProducer(down=True)
    with pytest.raises(Outage, match="dead-letter topic not writable"):
        KafkaDeadLetterSink(producer, "dlq.").send(_message(b"k", b"v"), "inventory", "x")
    assert producer.sent == []


def test_dead_letter_headers_keep_the_original_and_add_where_and_why() -> None:
    message = Message(
        "outbox.event.order",
        4,
        99,
        b"k",
        b"v",
        (("id", b"e1"), ("idempotency_key", None), ("dlq.reason", b"old")),
    )
    headers = dead_letter_headers(message, "inventory", "poison: x", NOW)
    as_dict = dict(headers)
    assert as_dict["id"] == b"e1"
    assert "idempotency_key" not in as_dict  # null: left out, reads the same
    assert as_dict["dlq.reason"] == b"poison: x"  # an earlier dead-lettering's is replaced
    assert [k for k, _ in headers].count("dlq.reason") == 1
    assert (
        as_dict["dlq.handler"],
        as_dict["dlq.topic"],
        as_dict["dlq.partition"],
        as_dict["dlq.offset"],
    ) == (b"inventory", b"outbox.event.order", b"4", b"99")
