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
from stack.layout import Layout
from stack.rest import ConnectRest
from stack.settings import StackSettings
from tests.conftest import ROOT
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


def _producer_configs(log: str, client_id: str) -> list[dict[str, str]]:
    """Each ``ProducerConfig values:`` block of a Connect log for ``client_id``, as a dict."""
    found = []
    for block in log.split("ProducerConfig values:")[1:]:
        lines = block.splitlines()[1:]
        config = dict(
            line.strip().split(" = ", 1) for line in lines[: next(
                (i for i, line in enumerate(lines) if not line.startswith("\t")), len(lines)
            )] if " = " in line
        )  # fmt: skip
        if config.get("client.id") == client_id:
            found.append(config)
    return found


def test_the_tasks_producer_retries_a_refused_write_for_ever(
    connector_running: ConnectRest, stack_settings: StackSettings
) -> None:
    """What the task's producer runs with, as Connect logged it: acks=all, idempotent, and no
    bound on retrying (Connect's own defaults, which neither the worker's config nor the
    connector's overrides shorten): a write refused with NOT_ENOUGH_REPLICAS or unanswered
    during an outage of any length is retried, never dropped (docs/scaling.md)."""
    workers = [w.name for w in stack_settings.topology.workers]
    logs = "".join(Layout(ROOT).log_file(w).read_text(errors="replace") for w in workers)
    configs = _producer_configs(logs, "connector-producer-orders-outbox-0")
    assert configs, f"no producer of the task in the logs of {workers}"
    for config in configs:
        assert config["acks"] == "-1"
        assert config["enable.idempotence"] == "true"
        assert config["delivery.timeout.ms"] == str(2**31 - 1)
        assert config["retries"] == str(2**31 - 1)
        assert config["max.block.ms"] == str(2**63 - 1)
