"""The polling relay users would otherwise write: ``SELECT ... FOR UPDATE SKIP LOCKED`` a batch
of outbox rows, publish them with kafka-python, delete them, commit, sleep when idle.

Lives here only, as the baseline Debezium is measured against: throughput, latency at a fixed
rate, and the database queries it sends while there is nothing to do.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import psycopg
from kafka import KafkaAdminClient, KafkaProducer
from kafka.admin import NewTopic

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
    queries: int = 0
    seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)


class PollingRelay:
    def __init__(
        self, dsn: str, bootstrap: str, topic: str, *, batch: int = 500, idle_sleep: float = 0.1
    ) -> None:
        self._dsn, self._topic, self._batch, self._idle = dsn, topic, batch, idle_sleep
        self._producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
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
                    self.run_stats.queries += 1
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
                        self.run_stats.queries += 1
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


def measure(
    dsn: str, bootstrap: str, *, rate: float, seconds: float, idle_seconds: float, payload: bytes
) -> dict[str, Any]:
    topic = f"bench.relay.{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    admin.create_topics([NewTopic(topic, 6, 1)])
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(SCHEMA)
    try:
        relay = PollingRelay(dsn, bootstrap, topic)
        thread = threading.Thread(target=relay.run)
        thread.start()
        time.sleep(idle_seconds)  # idle: count what polling costs with nothing to do
        idle_queries = relay.run_stats.queries
        written = write_at_rate(dsn, rate=rate, seconds=seconds, payload=payload)
        deadline = time.monotonic() + 30
        while relay.run_stats.published < written and time.monotonic() < deadline:
            time.sleep(0.05)
        relay.stop()
        thread.join()
        return {
            "rate": rate,
            "written": written,
            "published": relay.run_stats.published,
            "idle_queries_per_s": idle_queries / idle_seconds,
            "latencies_ms": relay.run_stats.latencies_ms,
        }
    finally:
        admin.delete_topics([topic])
        admin.close()
