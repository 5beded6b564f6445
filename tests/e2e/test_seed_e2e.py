"""Seeding through the service layer produces exactly one Kafka message per committed event,
each decodable with the schemas in schemas/ (issue 3's acceptance check, at test size)."""

from __future__ import annotations

import time
import uuid
from collections import Counter

import pytest
from kafka import KafkaConsumer, TopicPartition

from contract import AvroCodec, SchemaRepository
from contract.kafka import KafkaAccess
from contract.kafka_reads import end_offsets
from producer_app.bootstrap import Producer
from producer_app.entrypoints.seed import seed
from stack.rest import ConnectRest
from tests.kafka_helpers import ORDER_TOPIC, headers_of, register_connector

pytestmark = pytest.mark.e2e


def test_one_message_per_committed_event(
    producer: Producer, kafka_up: KafkaAccess, connect_up: ConnectRest
) -> None:
    register_connector(connect_up)
    before = end_offsets(kafka_up, ORDER_TOPIC, wait=60)
    result = seed(
        producer,
        client="tests",
        orders=300,
        cancel_ratio=0.2,
        workers=4,
        seed_value=None,
        show_progress=False,
    )
    assert result.orders == 300
    assert result.cancelled > 0
    expected = Counter({(oid, "OrderPlaced"): 1 for oid in result.placed_ids})
    expected.update((oid, "OrderCancelled") for oid in result.cancelled_ids)

    codec = AvroCodec(SchemaRepository.load())
    seen: Counter[tuple[uuid.UUID, str]] = Counter()
    event_ids: Counter[str] = Counter()
    consumer = KafkaConsumer(**kafka_up.client(), enable_auto_commit=False)
    parts = [TopicPartition(ORDER_TOPIC, p) for p in before]
    consumer.assign(parts)
    for tp in parts:
        consumer.seek(tp, before[tp.partition])
    mine = {str(oid) for oid in result.placed_ids}
    deadline = time.monotonic() + 60
    while sum(seen.values()) < sum(expected.values()) and time.monotonic() < deadline:
        for records in consumer.poll(timeout_ms=500).values():
            for m in records:
                if m.key is None or m.key.decode() not in mine:
                    continue
                writer, record = codec.decode(m.value)  # raises if it does not decode
                assert writer.event_type == headers_of(m)["event_type"]
                seen[(record["order_id"], writer.event_type)] += 1
                event_ids[headers_of(m)["id"]] += 1
    # Give a duplicate, if any, a moment to show up before comparing.
    for records in consumer.poll(timeout_ms=2000).values():
        for m in records:
            if m.key is not None and m.key.decode() in mine:
                seen[(codec.decode(m.value)[1]["order_id"], headers_of(m)["event_type"])] += 1
    consumer.close()
    assert seen == expected
    assert set(event_ids.values()) == {1}
