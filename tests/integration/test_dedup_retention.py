"""Data that only grows, kept bounded without weakening a guarantee: dedup marks are purged only
past what Kafka can still redeliver (the window comes from the topic's own retention and
segment span, read from the broker), and a redelivery inside it is still a duplicate;
Idempotency-Keys are purged past their TTL, and a live key still replays."""

from __future__ import annotations

import uuid

import psycopg
import pytest
from fastapi.testclient import TestClient
from kafka import KafkaAdminClient
from kafka.admin import ConfigResource, ConfigResourceType

from consumer_runtime.retention import Janitor, purge, window_of
from producer_app.bootstrap import Producer
from tests import factories
from tests.integration.conftest import Rig, run_until
from tests.kafka_helpers import start_at_the_end

pytestmark = pytest.mark.integration


def _retain(rig: Rig, retention_ms: int, segment_ms: int) -> None:
    admin = KafkaAdminClient(**rig.bootstrap_servers.client())
    try:
        admin.alter_configs(
            [
                ConfigResource(
                    ConfigResourceType.TOPIC,
                    rig.topic,
                    {"retention.ms": str(retention_ms), "segment.ms": str(segment_ms)},
                )
            ]
        )
    finally:
        admin.close()


def _marks(rig: Rig) -> int:
    [(n,)] = rig.sql(
        "SELECT count(*) FROM consumers.processed_events WHERE consumer_group = %s", rig.group
    )
    return int(n)


def test_marks_older_than_the_topic_can_redeliver_are_purged_and_the_rest_still_dedup(
    rig: Rig,
) -> None:
    _retain(rig, retention_ms=3_600_000, segment_ms=600_000)
    settings = rig.settings()
    window = window_of(settings.kafka_for(rig.group), rig.topic, margin_s=60)
    assert window.seconds == 3600 + 600 + 60  # read from the broker, as the consumers do

    old, young = rig.placed(4), rig.placed(3)
    rig.produce(old + young)
    running = rig.start()
    try:
        run_until(running.processor, lambda p: p.stats["handled"] >= 7)
    finally:
        running.close()
    # The first four marks are made older than anything the topic can still hold.
    rig.sql(
        "UPDATE consumers.processed_events SET processed_at = now() - interval '2 hours'"
        " WHERE consumer_group = %s AND event_id = ANY(%s)",
        rig.group,
        rig.event_ids[:4],
    )
    assert purge(settings.conninfo(rig.group), rig.group, window.seconds or 0, batch=2) == 4
    assert _marks(rig) == 3

    # Redelivered inside the window: duplicates, no second effect. (Outside it Kafka no longer
    # holds the message; were one delivered anyway, the notifications table's key would refuse
    # a second effect and the message would be dead-lettered, not applied twice.)
    start_at_the_end(settings.kafka_for(rig.group), rig.topic, f"{rig.group}.again")
    rig.produce(young)
    again = rig.start(kafka_group=f"{rig.group}.again")
    try:
        run_until(again.processor, lambda p: p.stats["duplicate"] >= 3)
    finally:
        again.close()
    assert dict(again.processor.stats).get("handled", 0) == 0
    assert rig.notifications() == 7


def test_a_topic_kept_forever_keeps_every_mark_and_the_janitor_waits_out_an_outage(
    rig: Rig,
) -> None:
    _retain(rig, retention_ms=-1, segment_ms=600_000)
    settings = rig.settings()
    forever = window_of(settings.kafka_for(rig.group), rig.topic, margin_s=60)
    assert forever.seconds is None
    rig.produce(rig.placed(2))
    running = rig.start()
    try:
        run_until(running.processor, lambda p: p.stats["handled"] >= 2)
    finally:
        running.close()
    rig.sql(
        "UPDATE consumers.processed_events SET processed_at = now() - interval '400 days'"
        " WHERE consumer_group = %s",
        rig.group,
    )
    assert Janitor(rig.group, settings.conninfo(rig.group), lambda: forever, 3600).once() == 0
    assert _marks(rig) == 2

    def unreachable() -> object:
        raise OSError("kafka down")

    assert Janitor(rig.group, settings.conninfo(rig.group), unreachable, 3600).once() == 0  # type: ignore[arg-type]
    assert _marks(rig) == 2


def test_expired_idempotency_keys_are_purged_and_live_ones_still_replay(
    api: TestClient, producer: Producer, admin_conn: psycopg.Connection[tuple[object, ...]]
) -> None:
    from producer_app.entrypoints.janitor import purge_once

    live, stale = f"live-{uuid.uuid4()}", [f"stale-{uuid.uuid4()}" for _ in range(3)]
    body = factories.order_payload()
    first = api.post("/orders", json=body, headers={"Idempotency-Key": live})
    for key in stale:
        api.post("/orders", json=factories.order_payload(), headers={"Idempotency-Key": key})
    ttl_hours = producer.settings.idempotency_ttl_hours
    admin_conn.execute(
        "UPDATE orders.idempotency_keys"
        " SET created_at = now() - (%s + 1) * interval '1 hour'"
        " WHERE key = ANY(%s)",
        (ttl_hours, stale),
    )
    assert purge_once(producer) >= 3  # others' expired keys may go too
    left = admin_conn.execute(
        "SELECT key FROM orders.idempotency_keys WHERE key = ANY(%s)", ([live, *stale],)
    ).fetchall()
    assert left == [(live,)]
    again = api.post("/orders", json=body, headers={"Idempotency-Key": live})
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
