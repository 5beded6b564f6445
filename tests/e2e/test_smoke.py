"""The stack's smoke test: a row inserted into the outbox with plain SQL comes out of Kafka
through the real Debezium connector and Outbox Event Router, bytes unchanged."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from kafka import KafkaConsumer

from contract.kafka import KafkaAccess
from stack import connect
from stack.rest import ConnectRest
from stack.settings import StackSettings
from tests.kafka_helpers import read_until, register_connector, wait_for_topic

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def connector_running(connect_up: ConnectRest) -> ConnectRest:
    register_connector(connect_up)
    return connect_up


def _app_conn(settings: StackSettings) -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(
        host=settings.postgres_host,
        port=settings.postgres_port,
        dbname=settings.postgres_db,
        user=settings.app_db_user,
        password=settings.need("app_db_password").get_secret_value(),
    )


@pytest.fixture
def consumer(kafka_up: KafkaAccess) -> Iterator[KafkaConsumer]:
    c = KafkaConsumer(**kafka_up.client(), enable_auto_commit=False, consumer_timeout_ms=500)
    yield c
    c.close()


def test_outbox_row_is_routed_with_key_bytes_and_headers(
    connector_running: ConnectRest, postgres_up: StackSettings, consumer: KafkaConsumer
) -> None:
    event_id, order_id = uuid.uuid4(), str(uuid.uuid4())
    payload = bytes(range(256)) + b"\x00\xff"  # not valid UTF-8 or JSON: must pass untouched
    with _app_conn(postgres_up) as conn:
        conn.execute(
            "INSERT INTO orders.outbox (id, aggregate_type, aggregate_id, event_type, payload,"
            " idempotency_key, traceparent) VALUES (%s, 'smoke', %s, 'SmokeTested', %s, %s, %s)",
            (
                event_id,
                order_id,
                payload,
                "smoke-key",
                "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            ),
        )
        conn.execute("DELETE FROM orders.outbox WHERE id = %s", (event_id,))
    # Its own aggregate type, so these non-Avro bytes never reach the order consumers.
    consumer.assign(wait_for_topic(consumer, "outbox.event.smoke"))
    consumer.seek_to_beginning()
    msg = read_until(consumer, lambda m: dict(m.headers).get("id") == str(event_id).encode())
    headers = dict(msg.headers)
    assert msg.key == order_id.encode()
    assert msg.value == payload
    assert headers["event_type"] == b"SmokeTested"
    assert headers["idempotency_key"] == b"smoke-key"
    assert headers["traceparent"].startswith(b"00-0af7651916cd43dd")
    assert not any(k.startswith("__debezium") for k in headers)
    with _app_conn(postgres_up) as conn:
        left = conn.execute("SELECT count(*) FROM orders.outbox").fetchone()
    assert left == (0,)


def test_heartbeat_passes_and_connector_keeps_running(
    connector_running: ConnectRest,
    consumer: KafkaConsumer,
    admin_conn: psycopg.Connection[tuple[object, ...]],
) -> None:
    consumer.assign(wait_for_topic(consumer, "__debezium-heartbeat.outbox", timeout=30))
    consumer.seek_to_end()
    # A heartbeat record is JSON from the BinaryDataConverter's delegate, not bytes.
    msg = read_until(consumer, lambda m: True, timeout=30)
    assert json.loads(msg.value)["ts_ms"] > 0
    beat = admin_conn.execute("SELECT beat_at FROM orders.debezium_heartbeat").fetchone()
    assert beat is not None
    status = connect.status(connector_running, "orders-outbox")
    assert status is not None
    assert status.running
