"""With Connect's exactly-once source every transaction ends in a commit marker: an offset that
is not a message. A group that commits the last message + 1 stays one behind per partition
for good (found when the exactly-once benchmark waited forever for a lag of 6), so an idle
partition's fetch position, once past such offsets only, is committed."""

from __future__ import annotations

from typing import Any

from kafka.structs import TopicPartition

from consumer_runtime import handler
from consumer_runtime.processor import EventProcessor
from consumers.events import OrderPlaced
from tests import factories
from tests.consumer_fakes import FakeConsumer, FakeDatabase, RecordingSink, processor_for

TP = TopicPartition("t", 0)


@handler("g")
def nothing(event: OrderPlaced, ctx: Any) -> None:
    """Handled: the effect does not matter here, the offsets do."""


def _processor(batches: int) -> tuple[EventProcessor, FakeConsumer]:
    one = [factories.kafka_message(factories.placed_record(), offset=i) for i in range(2)]
    messages = [one][:batches]
    processor = processor_for(messages, FakeDatabase(), nothing, RecordingSink())
    consumer = processor.consumer
    assert isinstance(consumer, FakeConsumer)
    return processor, consumer


def test_an_idle_partition_past_a_marker_is_committed_at_its_position_once() -> None:
    processor, consumer = _processor(1)
    processor.poll_once()
    assert consumer.commits == [{TP: 2}]  # the last message + 1
    consumer.positions[TP] = 3  # the fetch went past the transaction's commit marker at 2
    processor.poll_once()
    assert consumer.commits == [{TP: 2}, {TP: 3}]
    processor._markers_at = float("-inf")
    processor.poll_once()
    assert consumer.commits == [{TP: 2}, {TP: 3}]  # once, not on every idle check


def test_an_idle_partition_at_its_last_message_commits_nothing_more() -> None:
    processor, consumer = _processor(1)
    processor.poll_once()
    processor.poll_once()
    assert consumer.commits == [{TP: 2}]


def test_a_partition_never_handled_here_is_compared_with_what_the_group_committed() -> None:
    processor, consumer = _processor(0)
    consumer.committed_offsets[TP] = 5
    consumer.positions[TP] = 5
    processor.poll_once()
    assert consumer.commits == []
    consumer.positions[TP] = 6  # the new owner's fetch skipped a marker at 5
    processor._markers_at = float("-inf")
    processor.poll_once()
    assert consumer.commits == [{TP: 6}]
