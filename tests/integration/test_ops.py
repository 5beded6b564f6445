"""The operator's toolkit against the real stack, through its command line: output and --json
shape, a message that does not decode, a lagging group that trips the threshold, a slot that
reports retained WAL, a replayed dead letter handled once, and unreachable dependencies."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic
from kafka.structs import OffsetAndMetadata

from consumer_runtime import HandlerContext, handler
from consumer_runtime.registry import Registration
from consumers.events import OrderCancelled, OrderPlaced
from consumers.handlers.notifications import notify
from consumers.settings import ConsumerSettings
from contract.kafka import KafkaAccess
from ops.replay import replay
from stack.settings import StackSettings
from tests import factories
from tests.conftest import ROOT
from tests.consumer_fakes import registered
from tests.db_roles import group_role
from tests.kafka_helpers import grant

pytestmark = pytest.mark.integration


def ops(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ops", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
        check=False,
    )


@pytest.fixture
def topic(kafka_up: KafkaAccess) -> Iterator[str]:
    name = f"it.ops.{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(**kafka_up.client())
    admin.create_topics([NewTopic(name, 2, 1)])
    yield name
    admin.delete_topics([name])
    admin.close()


def produce(bootstrap: KafkaAccess, topic: str, *messages: tuple[bytes, bytes, list[Any]]) -> None:
    p = KafkaProducer(**bootstrap.client())
    for key, value, headers in messages:
        p.send(topic, key=key, value=value, headers=headers, partition=0)
    p.flush()
    p.close()


def test_topics_lists_kinds_counts_and_retention(topic: str, kafka_up: KafkaAccess) -> None:
    produce(kafka_up, topic, (b"k", b"v", []))
    human = ops("topics")
    assert human.returncode == 0, human.stderr
    assert topic in human.stdout
    listed = {t["name"]: t for t in json.loads(ops("topics", "--json").stdout)}
    assert listed[topic]["partitions"] == 2
    assert listed[topic]["messages"] == {"0": 1, "1": 0}
    assert listed[topic]["retention_ms"] > 0
    assert listed["connect-offsets"]["kind"] == "connect internal"
    assert listed["__debezium-heartbeat.outbox"]["kind"] == "heartbeat"


def test_inspect_decodes_events_and_shows_bad_bytes_as_hex_with_reason(
    topic: str, kafka_up: KafkaAccess
) -> None:
    good = factories.kafka_message(factories.placed_record(sales_channel="partner"))
    produce(
        kafka_up,
        topic,
        (good.key, good.value, list(good.headers)),
        (b"bad", b"\x00\x01not avro", [("id", b"x")]),
    )
    shown = [
        json.loads(line) for line in ops("inspect", topic, "--json", "-n", "5").stdout.splitlines()
    ]
    assert [m["offset"] for m in shown] == [0, 1]
    assert shown[0]["event_type"] == "OrderPlaced"
    assert shown[0]["schema_version"] == 3  # factories encode with the newest version
    assert shown[0]["fields"]["sales_channel"] == "partner"
    assert shown[0]["headers"]["event_type"] == "OrderPlaced"
    assert shown[1]["undecodable_hex"] == b"\x00\x01not avro".hex()
    assert shown[1]["reason"].startswith("not Avro single-object encoding")
    human = ops("inspect", topic, "--key", "bad").stdout
    assert "undecodable" in human
    assert "OrderPlaced" not in human  # the key filter left the good one out


def test_a_lagging_group_trips_the_threshold(topic: str, kafka_up: KafkaAccess) -> None:
    produce(kafka_up, topic, *[(b"k", b"v", [])] * 5)
    group = f"it-lag-{uuid.uuid4().hex[:8]}"
    c = KafkaConsumer(**kafka_up.client(), group_id=group, enable_auto_commit=False)
    c.commit(
        {
            TopicPartition(topic, 0): OffsetAndMetadata(2, "", -1),
            TopicPartition(topic, 1): OffsetAndMetadata(0, "", -1),
        }
    )
    c.close()
    try:
        within = ops("lag", "--group", group, "--max-lag", "3")
        assert within.returncode == 0, within.stderr
        over = ops("lag", "--group", group, "--max-lag", "2", "--json")
        assert over.returncode == 1
        report = json.loads(over.stdout)
        assert report["over_threshold"] == 1
        assert {
            (p["partition"], p["committed"], p["end"], p["lag"]) for p in report["partitions"]
        } == {(0, 2, 5, 3), (1, 0, 0, 0)}
        assert "lag above 2" in over.stderr
    finally:
        KafkaAdminClient(**kafka_up.client()).delete_groups([group])


def test_status_reports_the_connector_and_a_slot_holding_wal(
    admin_conn: psycopg.Connection[Any],
) -> None:
    slot = f"it_slot_{uuid.uuid4().hex[:8]}"
    admin_conn.execute("SELECT pg_create_logical_replication_slot(%s, 'pgoutput')", (slot,))
    try:
        admin_conn.execute(
            "CREATE TEMP TABLE wal_filler AS "
            "SELECT g, repeat('x', 500) AS pad FROM generate_series(1, 3000) g"
        )
        admin_conn.execute("SELECT pg_switch_wal()")
        result = ops("status", "--json", "--wal-warn-bytes", "1000")
        report = json.loads(result.stdout)
        slots = {s["slot_name"]: s for s in report["slots"]}
        assert slots[slot]["active"] is False
        assert slots[slot]["retained_bytes"] > 1000
        assert any(w.startswith(f"slot {slot} retains") for w in report["warnings"])
        assert f"slot {slot} is not active (no reader)" in report["problems"]
        assert any(p.startswith(f"slot {slot} (logical, pgoutput") for p in report["problems"])
        assert slots[slot]["connector"] is False
        assert result.returncode == 1
        assert slots["outbox_slot"]["active"] is True
        assert slots["outbox_slot"]["connector"] is True
        [connector] = report["connectors"]
        assert (connector["name"], connector["state"]) == ("orders-outbox", "RUNNING")
        topology = StackSettings().topology  # the one make up started (make exports it)
        workers = {f"{w.name} ({w.host}:{w.port})" for w in topology.workers}
        assert connector["tasks"][0]["worker"] in workers
        parts = {p["name"]: p for p in report["parts"]}
        assert parts["postgres"]["healthy"]
        for name in [b.name for b in topology.brokers] + [w.name for w in topology.workers]:
            assert parts[name]["healthy"]
        seen = report["cluster"]
        assert [(b["node_id"], b["address"], b["state"]) for b in seen["brokers"]] == [
            (b.node_id, b.address, "up") for b in topology.brokers
        ]
        assert seen["partitions"] > 0
        assert seen["under_replicated"] == seen["under_min_isr"] == seen["offline"] == []
    finally:
        admin_conn.execute("SELECT pg_drop_replication_slot(%s)", (slot,))


def test_a_replayed_dead_letter_is_handled_once(
    topic: str, kafka_up: KafkaAccess, stack_settings: StackSettings
) -> None:
    group = f"it-replay-{uuid.uuid4().hex[:8]}"
    broken = {"on": True}

    @handler(group)
    def handle(event: OrderPlaced | OrderCancelled, ctx: HandlerContext) -> None:
        if broken["on"]:
            raise RuntimeError("mailer down")
        notify(event, ctx)

    registration = registered(handle)
    record = factories.placed_record()
    m = factories.kafka_message(record)
    produce(kafka_up, topic, (m.key, m.value, list(m.headers)))
    settings = ConsumerSettings(_env_file=ROOT / ".env", topic=topic, retry_base_seconds=0.01)
    grant(kafka_up, settings, group, topic)
    with group_role(group):
        _replay_after_the_fix(settings, group, registration, broken, record, stack_settings)
    KafkaAdminClient(**kafka_up.client()).delete_topics([f"dlq.{group}"])


def _replay_after_the_fix(
    settings: ConsumerSettings,
    group: str,
    registration: Registration,
    broken: dict[str, bool],
    record: dict[str, Any],
    stack_settings: StackSettings,
) -> None:
    from consumers.bootstrap import bootstrap

    running = bootstrap(settings, registration)
    running.processor.run(until=lambda p: p.stats["dead_lettered"] >= 1)
    running.close()

    broken["on"] = False  # the cause is fixed
    assert replay(settings, group, registration=registration)["handled"] == 1
    assert replay(settings, group, registration=registration) == {}  # nothing new
    by_id = replay(settings, group, ids={str(record["event_id"])}, registration=registration)
    assert by_id["duplicate"] == 1  # replayed again on purpose: absorbed
    with psycopg.connect(stack_settings.admin_dsn(), autocommit=True) as conn:
        rows = conn.execute(
            "SELECT count(*) FROM consumers.notifications WHERE event_id = %s",
            (record["event_id"],),
        ).fetchone()
        conn.execute(
            "DELETE FROM consumers.notifications WHERE event_id = %s", (record["event_id"],)
        )
        conn.execute("DELETE FROM consumers.processed_events WHERE consumer_group = %s", (group,))
    assert rows == (1,)


def test_unreachable_kafka_and_postgres_are_named() -> None:
    # Both topologies' addresses (in ha, the KAFKA_HA_/CONNECT_HA_ lists are the clients').
    nowhere = {
        "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1",
        "KAFKA_HA_BOOTSTRAP_SERVERS": "127.0.0.1:1,127.0.0.1:2,127.0.0.1:3",
    }
    kafka = ops("topics", env=nowhere)
    assert kafka.returncode == 2
    assert "Kafka is not reachable at 127.0.0.1:1" in kafka.stderr
    no_connect = {
        "CONNECT_URL": "http://127.0.0.1:1",
        "CONNECT_HA_URLS": "http://127.0.0.1:1,http://127.0.0.1:2",  # as many as HA has
    }
    status = ops("status", "--json", env={"POSTGRES_PORT": "1", **no_connect})
    problems = json.loads(status.stdout)["problems"]
    assert any(p.startswith("Postgres is not reachable at 127.0.0.1:1") for p in problems)
    assert any(p.startswith("Kafka Connect not reachable at http://127.0.0.1:1") for p in problems)
