"""Issue 25, item 3: a group cannot get a forged event applied through its own dead-letter
topic. Its principal must be able to write ``dlq.<group>`` (to dead-letter), so as
``consumer-notifications`` a valid ``OrderPlaced`` for an order that never existed was
written there, and ``make dlq-replay GROUP=notifications`` applied it (a confirmation for
``cust-FORGED``). Now the replay runs only letters whose origin is still on the event topic
with the same key and bytes (``ops/provenance.py``); the forgeries are refused, named with the
reason, left in the topic, and the verb exits 3. A true copy of an event is replayed."""

from __future__ import annotations

import re
import subprocess
import sys
import time
import uuid
from typing import Any

import httpx
import psycopg
import pytest
from kafka import KafkaConsumer, KafkaProducer

from contract import headers as h
from contract.kafka import KafkaAccess
from contract.topics import ORDER_EVENTS, dlq_topic
from stack.settings import StackSettings
from tests import factories
from tests.conftest import ROOT, bearer
from tests.kafka_helpers import read_until, wait_for_topic

pytestmark = pytest.mark.integration
GROUP = "notifications"


def _origin(topic: str, partition: int, offset: int) -> list[tuple[str, bytes]]:
    return h.encode_headers(
        {h.DLQ_TOPIC: topic, h.DLQ_PARTITION: str(partition), h.DLQ_OFFSET: str(offset)}
    )


def _write(access: KafkaAccess, *letters: tuple[bytes, bytes, list[tuple[str, bytes]]]) -> None:
    """As the group's own principal, which may write its dead-letter topic."""
    producer = KafkaProducer(**access.client(acks="all", max_block_ms=10_000))
    try:
        for key, value, headers in letters:
            producer.send(dlq_topic(GROUP), key=key, value=value, headers=headers).get(timeout=10)
    finally:
        producer.close(timeout=5)


def _a_handled_event(settings: StackSettings, key: str, admin: psycopg.Connection[Any]) -> Any:
    """An order placed through the API now, its record on the event topic once the group
    has handled it."""
    c = KafkaConsumer(**settings.kafka_group(GROUP).client(), enable_auto_commit=False)
    try:
        parts = wait_for_topic(c, ORDER_EVENTS)
        c.assign(parts)
        c.seek_to_end()
        for tp in parts:
            c.position(tp)  # from here on: the order placed next
        placed = httpx.post(
            f"http://127.0.0.1:{settings.api_port}/orders",
            json=factories.order_payload(),
            headers=bearer(key),
            timeout=10,
        )
        assert placed.status_code == 201, placed.text
        order_id = placed.json()["id"]
        record = read_until(c, lambda m: m.key == order_id.encode())
    finally:
        c.close()
    deadline = time.monotonic() + 60
    event_id = dict(record.headers)[h.EVENT_ID].decode()
    while not admin.execute(
        "SELECT 1 FROM consumers.processed_events WHERE consumer_group = %s AND event_id = %s",
        (GROUP, event_id),
    ).fetchone():
        assert time.monotonic() < deadline, "the group did not handle the order"
        time.sleep(0.5)
    return record


def _forged(customer: str) -> tuple[bytes, bytes, list[tuple[str, bytes]], str]:
    record = factories.placed_record(customer_id=customer)
    m = factories.kafka_message(record)
    return m.key, m.value, list(m.headers), str(record["event_id"])


def test_a_forged_dead_letter_is_refused_and_a_true_copy_replayed(
    apps_running: None,
    stack_settings: StackSettings,
    admin_conn: psycopg.Connection[Any],
    api_key: str,
) -> None:
    access = stack_settings.kafka_group(GROUP)
    customer = f"cust-FORGED-{uuid.uuid4().hex[:8]}"
    real = _a_handled_event(stack_settings, api_key, admin_conn)
    key, value, headers, event_id = _forged(customer)
    _write(
        access,
        (key, value, headers),  # the forgery: no dead-letter headers at all
        (real.key, value, headers + _origin(ORDER_EVENTS, real.partition, real.offset)),  # lies
        (key, value, headers + _origin(ORDER_EVENTS, 0, 10**12)),  # nowhere
        (key, value, headers + _origin("somewhere.else", 0, 0)),
        # A true copy of an event on the topic: it is replayed (and, handled already, absorbed).
        (
            real.key,
            real.value,
            [(k, v) for k, v in real.headers if v is not None]
            + _origin(ORDER_EVENTS, real.partition, real.offset),
        ),
    )
    done = subprocess.run(
        [sys.executable, "-m", "ops", "dlq-replay", GROUP],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    out = " ".join(done.stdout.split())
    assert done.returncode == 3, (done.returncode, done.stdout, done.stderr)
    assert "no origin headers" in out
    assert (
        f"bytes differ from the record's at {ORDER_EVENTS}[{real.partition}]@{real.offset}" in out
    )
    assert "is no longer (or never was) on the topic" in out
    assert "its origin somewhere.else is not the event topic" in out
    assert out.count(f"(event {event_id})") == 4
    applied = admin_conn.execute(
        "SELECT count(*) FROM consumers.notifications WHERE customer_id = %s", (customer,)
    ).fetchone()
    marked = admin_conn.execute(
        "SELECT count(*) FROM consumers.processed_events WHERE event_id = %s", (event_id,)
    ).fetchone()
    assert (applied, marked) == ((0,), (0,))
    # The true copy was proven, ran, and was absorbed as a duplicate: never refused.
    assert f"(event {dict(real.headers)[h.EVENT_ID].decode()})" not in out
    handled_before = re.search(r"already handled (\d+)", out)
    assert handled_before is not None
    assert int(handled_before[1]) >= 1
