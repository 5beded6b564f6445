"""The polling relay users would otherwise write: ``SELECT ... FOR UPDATE SKIP LOCKED`` a batch
of outbox rows, publish them with kafka-python, delete them, commit, sleep when idle.

Lives here only, as the baseline Debezium is measured against: throughput, latency at a fixed
rate, and the database queries it sends while there is nothing to do.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import psycopg
from kafka import KafkaAdminClient, KafkaProducer
from kafka.admin import NewTopic

from bench import backlog
from contract.kafka import KafkaAccess
from contract.kafka_reads import end_offsets

SCHEMA = """
CREATE TABLE IF NOT EXISTS orders.relay_outbox (
    id           uuid PRIMARY KEY,
    aggregate_id text NOT NULL,
    payload      bytea NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT clock_timestamp()
)"""
CLAIM = """
    SELECT id, aggregate_id, payload, pg_xact_commit_timestamp(xmin)
    FROM orders.relay_outbox ORDER BY created_at LIMIT %s FOR UPDATE SKIP LOCKED"""


@dataclass
class RelayRun:
    published: int = 0
    seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)


class PollingRelay:
    def __init__(
        self,
        dsn: str,
        bootstrap: KafkaAccess,
        topic: str,
        *,
        batch: int = 500,
        idle_sleep: float = 0.1,
    ) -> None:
        self._dsn, self._topic, self._batch, self._idle = dsn, topic, batch, idle_sleep
        self._producer = KafkaProducer(**bootstrap.client(acks="all", linger_ms=5))
        self.run_stats = RelayRun()
        self._stop = threading.Event()

    def stop(self) -> None:
        self._stop.set()

    def run(self) -> None:
        started = time.monotonic()
        with psycopg.connect(self._dsn) as conn:
            while not self._stop.is_set():
                with conn.transaction():
                    rows = conn.execute(CLAIM, (self._batch,)).fetchall()
                    if rows:
                        for _, key, payload, _ in rows:
                            self._producer.send(self._topic, key=key.encode(), value=payload)
                        self._producer.flush()
                        published = time.time()
                        self.run_stats.latencies_ms += [
                            (published - committed.timestamp()) * 1000 for *_, committed in rows
                        ]
                        conn.execute(
                            "DELETE FROM orders.relay_outbox WHERE id = ANY(%s)",
                            ([r[0] for r in rows],),
                        )
                        self.run_stats.published += len(rows)
                if not rows:
                    time.sleep(self._idle)
        self.run_stats.seconds = time.monotonic() - started
        self._producer.close()


def write_at_rate(dsn: str, *, rate: float, seconds: float, payload: bytes) -> int:
    """Commit one outbox row per transaction, ``rate`` per second, for ``seconds``."""
    interval, written = 1.0 / rate, 0
    next_at = time.monotonic()
    deadline = next_at + seconds
    with psycopg.connect(dsn, autocommit=True) as conn:
        while time.monotonic() < deadline:
            conn.execute(
                "INSERT INTO orders.relay_outbox (id, aggregate_id, payload) VALUES (%s, %s, %s)",
                (uuid.uuid4(), str(uuid.uuid4()), payload),
            )
            written += 1
            next_at += interval
            time.sleep(max(0.0, next_at - time.monotonic()))
    return written


@contextmanager
def relay_topic(dsn: str, bootstrap: KafkaAccess) -> Iterator[str]:
    """A topic of its own (deleted afterwards) and the relay's outbox table."""
    topic = f"bench.relay.{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(**bootstrap.client())
    admin.create_topics([NewTopic(topic, 6, 1)])
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(SCHEMA)
    try:
        yield topic
    finally:
        admin.delete_topics([topic])
        admin.close()


@contextmanager
def running(relay: PollingRelay) -> Iterator[PollingRelay]:
    thread = threading.Thread(target=relay.run)
    thread.start()
    try:
        yield relay
    finally:
        relay.stop()
        thread.join()


def _wait_published(relay: PollingRelay, count: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while relay.run_stats.published < count and time.monotonic() < deadline:
        time.sleep(0.05)


def measure(
    dsn: str,
    bootstrap: KafkaAccess,
    *,
    rate: float,
    seconds: float,
    idle_seconds: float,
    payload: bytes,
    idle_rate: Callable[[float], float],
) -> dict[str, Any]:
    """Idle cost, then latency at ``rate``. ``idle_rate(seconds)``: statements/s the relay's
    role sends over that many seconds, as the database counts them (``bench.queries``)."""
    with relay_topic(dsn, bootstrap) as topic, running(PollingRelay(dsn, bootstrap, topic)) as r:
        time.sleep(0.5)  # connected and polling
        idle = idle_rate(idle_seconds)  # what polling costs with nothing to do
        written = write_at_rate(dsn, rate=rate, seconds=seconds, payload=payload)
        _wait_published(r, written)
    return {
        "rate": rate,
        "written": written,
        "published": r.run_stats.published,
        "idle_statements_per_s": idle,
        "latencies_ms": r.run_stats.latencies_ms,
    }


def drain(dsn: str, bootstrap: KafkaAccess, *, count: int, payload: bytes) -> float:
    """Events/s publishing ``count`` rows that were already waiting when the relay started."""
    with relay_topic(dsn, bootstrap) as topic:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(
                "INSERT INTO orders.relay_outbox (id, aggregate_id, payload) "
                "SELECT gen_random_uuid(), g::text, %s FROM generate_series(1, %s) g",
                (payload, count),
            )
        since = end_offsets(bootstrap, topic)
        with running(PollingRelay(dsn, bootstrap, topic)) as r:
            _wait_published(r, count)
        return backlog.drain_rate(bootstrap, topic, since, count)
