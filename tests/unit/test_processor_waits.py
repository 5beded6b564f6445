"""The processor never exits on the infrastructure's fault, logs each outage once per change
of state, and its Kafka timing is derived from the handler's bound."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from kafka.errors import KafkaConnectionError
from pydantic import ValidationError

from consumer_runtime import HandlerContext, handler
from consumer_runtime.condition import Condition
from consumer_runtime.processor import EventProcessor
from consumers.events import OrderPlaced
from consumers.settings import ConsumerSettings
from tests.consumer_fakes import FakeConsumer, FakeDatabase, RecordingSink, processor_for


class FlakyConsumer(FakeConsumer):
    """Kafka unreachable for the first ``down`` calls of each kind."""

    def __init__(self, down: int) -> None:
        super().__init__([])
        self.down = {"partitions": down, "poll": down}

    def _fail(self, what: str) -> None:
        if self.down[what] > 0:
            self.down[what] -= 1
            raise KafkaConnectionError("111 ECONNREFUSED")

    def partitions_for_topic(self, topic: str) -> set[int]:
        self._fail("partitions")
        return super().partitions_for_topic(topic)

    def poll(self, timeout_ms: int, max_records: int) -> Any:
        self._fail("poll")
        return super().poll(timeout_ms, max_records)


@handler("g")
def nothing(event: OrderPlaced, ctx: HandlerContext) -> None: ...


def _processor(consumer: Any) -> EventProcessor:
    return processor_for([], FakeDatabase(), nothing, RecordingSink(), consumer=consumer)


def test_kafka_down_at_start_and_while_polling_is_waited_out() -> None:
    consumer = FlakyConsumer(down=5)
    processor = _processor(consumer)
    processor.run(until=lambda p: p.stats["outages"] >= 5 and p.condition.trouble is None)
    assert consumer.subscribed == ["t"]
    assert processor.stats["outages"] == 5  # the five failed polls, each backed off
    assert processor.condition.trouble is None


def test_an_outage_is_logged_when_it_starts_changes_and_ends(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [0.0]
    condition = Condition(lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="consumers.processor"):
        for _ in range(50):
            condition.failing("postgres [53100]", "disk full")
        condition.failing("kafka (poll)", "refused")
        now[0] = 12.0
        condition.ok()
        condition.ok()
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        "waiting: postgres [53100] unavailable: disk full",
        "waiting: kafka (poll) unavailable: refused",
        "recovered: kafka (poll) back after 12.0s (0 retries)",
    ]


def test_max_poll_interval_is_derived_from_the_bounds() -> None:
    s = ConsumerSettings(consumer_db_secret="x", kafka_consumers_secret="x", _env_file=None)
    # 30 s budget + 3 attempts x (10 s bound + 2 s backoff + 5 s dead-letter send) + 30 s
    assert s.slowest_turn_seconds() == 81.0
    assert s.max_poll_interval_ms == 111_000


@pytest.mark.parametrize(
    "bad",
    [
        {"max_poll_interval_ms": 60_000},  # shorter than a batch may take
        {"retry_max_seconds": 10.0},  # a backoff would outlast the idle bound
        {"dlq_send_timeout_seconds": 12.0},
    ],
)
def test_inconsistent_bounds_are_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        ConsumerSettings(consumer_db_secret="x", kafka_consumers_secret="x", _env_file=None, **bad)
