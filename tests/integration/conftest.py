"""Fixtures of the consumer integration tests: a topic and a group of their own per test (a
``Rig``), the real ``notifications`` handler under that group, and a connector that must be
healthy again after a test stopped a part of the stack."""

from __future__ import annotations

import contextlib
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import psycopg
import pytest
from kafka import KafkaAdminClient, KafkaProducer
from kafka.admin import NewTopic
from kafka.errors import UnknownTopicOrPartitionError

from consumer_runtime import HandlerContext, handler
from consumer_runtime.processor import EventProcessor
from consumer_runtime.registry import Registration
from consumers.bootstrap import Running, bootstrap
from consumers.events import OrderCancelled, OrderPlaced
from consumers.handlers.notifications import notify
from consumers.settings import ConsumerSettings
from contract.kafka import KafkaAccess
from stack.rest import ConnectRest
from stack.settings import StackSettings
from tests import factories
from tests.conftest import ROOT
from tests.consumer_fakes import registered
from tests.db_roles import group_role
from tests.kafka_helpers import grant


@dataclass
class Rig:
    bootstrap_servers: KafkaAccess  # the admin principal: the rig sets up and inspects
    topic: str
    group: str
    admin_dsn: str
    partitions_seen: Counter[tuple[str, int]] = field(default_factory=Counter)
    event_ids: list[uuid.UUID] = field(default_factory=list)

    def settings(self, **overrides: Any) -> ConsumerSettings:
        defaults: dict[str, Any] = {
            "topic": self.topic,
            "retry_base_seconds": 0.01,
            "stats_interval_seconds": 60,
            "poll_timeout_ms": 100,
            "outage_max_backoff_seconds": 1.0,
        }
        return ConsumerSettings(_env_file=ROOT / ".env", **{**defaults, **overrides})

    def registration(self, instance: str = "a") -> Registration:
        """The ``notifications`` handler's per-event form under this rig's group."""

        @handler(self.group)
        def handle(event: OrderPlaced | OrderCancelled, ctx: HandlerContext) -> None:
            self.partitions_seen[(instance, ctx.message.partition)] += 1
            notify(event, ctx)

        return registered(handle)

    def start(self, instance: str = "a", **kwargs: Any) -> Running:
        return bootstrap(self.settings(), self.registration(instance), **kwargs)

    def produce(self, messages: list[tuple[int, bytes | None, bytes, list[Any]]]) -> None:
        producer = KafkaProducer(**self.bootstrap_servers.client(), acks="all")
        for partition, key, value, headers in messages:
            producer.send(self.topic, key=key, value=value, headers=headers, partition=partition)
        producer.flush()
        producer.close()

    def placed(
        self, n: int, partitions: int = 1
    ) -> list[tuple[int, bytes | None, bytes, list[Any]]]:
        out = []
        for i in range(n):
            record = factories.placed_record()
            self.event_ids.append(record["event_id"])
            m = factories.kafka_message(record)
            out.append((i % partitions, m.key, m.value, list(m.headers)))
        return out

    def sql(self, query: str, *params: Any) -> list[tuple[Any, ...]]:
        # A connection per call: the outage test restarts Postgres under our feet.
        with psycopg.connect(self.admin_dsn, autocommit=True) as conn:
            cur = conn.execute(query, params)
            return cur.fetchall() if cur.description else []

    def notifications(self) -> int:
        [(count,)] = self.sql(
            "SELECT count(*) FROM consumers.notifications WHERE event_id = ANY(%s)", self.event_ids
        )
        return int(count)


def run_until(
    processor: EventProcessor, done: Callable[[EventProcessor], bool], timeout: float = 60
) -> None:
    deadline = time.monotonic() + timeout
    processor.run(until=lambda p: done(p) or time.monotonic() > deadline)
    assert done(processor), f"not done in {timeout}s: {dict(processor.stats)}"


@pytest.fixture
def rig(kafka_up: KafkaAccess, postgres_up: StackSettings) -> Iterator[Rig]:
    suffix = uuid.uuid4().hex[:8]
    r = Rig(kafka_up, f"it.orders.{suffix}", f"it-notifications-{suffix}", postgres_up.admin_dsn())
    admin = KafkaAdminClient(**kafka_up.client())
    admin.create_topics([NewTopic(r.topic, 6, 1)])
    admin.close()
    # The rig's group logs in as its own principal, with the ACLs any group gets, and to
    # Postgres as its own role, with the notifications group's tables.
    grant(kafka_up, r.settings(), r.group, r.topic)
    with group_role(r.group):
        yield r
        _clean(r, kafka_up)


def _clean(r: Rig, kafka_up: KafkaAccess) -> None:
    # A test may have restarted the broker under the fixture's client: ask with a fresh one.
    admin = KafkaAdminClient(**kafka_up.client())
    for name in (r.topic, f"dlq.{r.group}"):  # a test may not have made the second
        with contextlib.suppress(UnknownTopicOrPartitionError):
            admin.delete_topics([name])
    admin.close()
    r.sql("DELETE FROM consumers.notifications WHERE event_id = ANY(%s)", r.event_ids)
    r.sql("DELETE FROM consumers.processed_events WHERE consumer_group = %s", r.group)


@pytest.fixture
def restart_connector_after(connect_up: ConnectRest, postgres_up: StackSettings) -> Iterator[None]:
    yield
    # Stopping Postgres cuts Debezium's replication connection. The connector reports RUNNING
    # while its task waits out a restart backoff; it is back only when its slot is active again.
    from stack import connect

    deadline = time.monotonic() + 120
    status, active = None, False
    while time.monotonic() < deadline:
        status = connect.status(connect_up, "orders-outbox")
        with psycopg.connect(postgres_up.admin_dsn(), autocommit=True) as conn:
            row = conn.execute(
                "SELECT active FROM pg_replication_slots WHERE slot_name = 'outbox_slot'"
            ).fetchone()
        active = bool(row and row[0])
        if status is not None and status.running and active:
            return
        time.sleep(1)
    raise AssertionError(f"connector did not recover: {status}, slot active: {active}")
