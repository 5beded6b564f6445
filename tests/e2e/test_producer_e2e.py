"""POST /orders through the real pipeline: the Kafka message's key is the order id, its value
decodes to OrderPlaced with the schemas in schemas/, its headers carry id, type and key."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from kafka import KafkaConsumer

from contract import AvroCodec, SchemaRepository
from contract.kafka import KafkaAccess
from stack.rest import ConnectRest
from tests import factories
from tests.kafka_helpers import (
    ORDER_TOPIC,
    headers_of,
    read_until,
    register_connector,
    wait_for_topic,
)

pytestmark = pytest.mark.e2e


@pytest.fixture
def consumer(kafka_up: KafkaAccess, connect_up: ConnectRest) -> Iterator[KafkaConsumer]:
    register_connector(connect_up)
    c = KafkaConsumer(**kafka_up.client(), enable_auto_commit=False)
    c.assign(wait_for_topic(c, ORDER_TOPIC))
    c.seek_to_end()
    for tp in c.assignment():
        c.position(tp)  # resolve the lazy seek now, before anything is produced
    yield c
    c.close()


def test_post_orders_arrives_as_avro_order_placed(api: TestClient, consumer: KafkaConsumer) -> None:
    key = f"e2e-{uuid.uuid4()}"
    traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    response = api.post(
        "/orders",
        json=factories.order_payload(),
        headers={"Idempotency-Key": key, "traceparent": traceparent},
    )
    assert response.status_code == 201
    order = response.json()
    msg = read_until(consumer, lambda m: m.key == order["id"].encode())
    headers = headers_of(msg)
    assert headers["event_type"] == "OrderPlaced"
    assert headers["idempotency_key"] == key
    assert headers["traceparent"] == traceparent
    repository = SchemaRepository.load()
    writer, record = AvroCodec(repository).decode(msg.value, repository.get("OrderPlaced"))
    assert writer.label == "OrderPlaced v3"
    assert headers["schema_version"] == "3"
    assert record["item_count"] == sum(line["quantity"] for line in record["lines"])
    assert str(record["event_id"]) == headers["id"]
    assert str(record["order_id"]) == order["id"]
    assert record["total"] == Decimal(order["total_cents"]).scaleb(-2)
    assert record["sales_channel"] == "mobile"
    assert [(li["sku"], li["quantity"]) for li in record["lines"]] == [
        (li["sku"], li["quantity"]) for li in order["lines"]
    ]

    cancel = api.post(f"/orders/{order['id']}/cancel", json={"reason": "e2e"})
    assert cancel.status_code == 200
    msg = read_until(
        consumer,
        lambda m: m.key == order["id"].encode() and headers_of(m)["event_type"] == "OrderCancelled",
    )
    _, record = AvroCodec(repository).decode(msg.value)
    assert record["reason"] == "e2e"
