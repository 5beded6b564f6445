"""The whole pipeline: 2,000 seeded orders (with cancellations) go through Debezium and Kafka
to the three real consumer groups. Afterwards each read model must equal what the orders table
says (compared in SQL), and every event must be processed exactly once per group."""

from __future__ import annotations

import threading
import time
from typing import Any

import psycopg
import pytest
from kafka import KafkaConsumer, TopicPartition

from chaos.checks import EVENTS, VIOLATIONS
from consumers.bootstrap import Running, bootstrap
from consumers.handlers import REGISTRY
from consumers.settings import ConsumerSettings
from contract.kafka import KafkaAccess
from contract.kafka_reads import end_offsets
from producer_app.bootstrap import Producer
from producer_app.entrypoints.seed import seed
from stack.rest import ConnectRest
from stack.settings import StackSettings
from tests.conftest import ROOT
from tests.kafka_helpers import headers_of, register_connector

pytestmark = pytest.mark.e2e


def dead_letter_reasons(bootstrap: KafkaAccess, group: str, since: dict[int, int]) -> list[str]:
    consumer = KafkaConsumer(**bootstrap.client(), enable_auto_commit=False)
    parts = [TopicPartition(f"dlq.{group}", p) for p in since]
    consumer.assign(parts)
    for tp in parts:
        consumer.seek(tp, since[tp.partition])
    reasons = []
    for records in consumer.poll(timeout_ms=3000).values():
        reasons += [headers_of(m)["dlq.reason"] for m in records]
    consumer.close()
    return reasons


def scalar(conn: psycopg.Connection[Any], query: str, *params: Any) -> int:
    row = conn.execute(query, params).fetchone()
    assert row is not None
    return int(row[0])


def test_read_models_equal_the_orders_table(
    producer: Producer, connect_up: ConnectRest, stack_settings: StackSettings
) -> None:
    register_connector(connect_up)
    result = seed(
        producer, client="tests", orders=2000, cancel_ratio=0.15, workers=4, show_progress=False
    )
    assert result.cancelled > 100
    settings = ConsumerSettings(_env_file=ROOT / ".env", stats_interval_seconds=60)
    admin = psycopg.connect(stack_settings.admin_dsn(), autocommit=True)
    expected = scalar(admin, EVENTS)

    def processed(group: str) -> int:
        with psycopg.connect(stack_settings.admin_dsn(), autocommit=True) as conn:
            return scalar(
                conn,
                "SELECT count(*) FROM consumers.processed_events "
                "WHERE consumer_group = %s AND outcome = 'handled'",
                group,
            )

    running: list[Running] = [bootstrap(settings, r) for r in REGISTRY.values()]
    dlq_before = {
        g: end_offsets(stack_settings.kafka_as("admin"), f"dlq.{g}", wait=60) for g in REGISTRY
    }
    deadline = time.monotonic() + 240

    def work(r: Running) -> None:
        r.processor.run(
            until=lambda p: (
                time.monotonic() > deadline
                or (p.stats["batches"] > 0 and processed(p.group) >= expected)
            )
        )

    threads = [threading.Thread(target=work, args=(r,)) for r in running]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for r in running:
        r.close()

    for r in running:
        assert processed(r.processor.group) == expected, r.processor.group
    # Only bytes that are not our events may have been dead-lettered (a dev topic can hold
    # older poison); every committed event was handled, none was dead-lettered.
    for group, before in dlq_before.items():
        for reason in dead_letter_reasons(stack_settings.kafka_as("admin"), group, before):
            assert reason.startswith("poison: not Avro single-object encoding"), reason
    violations = {name: scalar(admin, query) for name, query in VIOLATIONS.items()}
    assert violations == dict.fromkeys(VIOLATIONS, 0)
    # Scarce SKUs make some reservations fail: the rejection path ran too.
    assert (
        scalar(admin, "SELECT count(*) FROM consumers.reservations WHERE status = 'rejected'") > 0
    )
    admin.close()
