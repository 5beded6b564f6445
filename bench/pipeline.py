"""The pipeline under load: orders offered at a fixed rate through the service layer, then
every order followed through Debezium and Kafka to all three handlers.

Clocks are comparable because every timestamp but one comes from Postgres: an order's commit
time and each handler's commit time are ``pg_xact_commit_timestamp(xmin)`` of their rows
(``track_commit_timestamp = on``). "Kafka" is the record's timestamp: for Debezium the time
it turned the change into an event (the outbox router's default), for the polling relay the
producer's create time at send; both on this machine's clock, both before the broker append
(the producer's linger, 5 ms at most, is not counted on either side).
"""

from __future__ import annotations

import statistics
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg
from kafka import KafkaConsumer, TopicPartition

from bench import cpu
from contract.kafka import KafkaAccess
from contract.kafka_reads import end_offsets
from ops.kafka_io import admin, consumer
from producer_app.bootstrap import Producer
from producer_app.entrypoints.seed import SeedResult, seed
from stack.settings import StackSettings

ORDER_TOPIC = "outbox.event.order"
HANDLED = {
    "notifications": "SELECT order_id, pg_xact_commit_timestamp(xmin) FROM "
    "consumers.notifications WHERE order_id = ANY(%s) "
    "AND kind = 'order_confirmation'",
    "sales-projection": "SELECT order_id, pg_xact_commit_timestamp(xmin) FROM "
    "consumers.sales_orders WHERE order_id = ANY(%s)",
    "inventory": "SELECT order_id, pg_xact_commit_timestamp(xmin) FROM "
    "consumers.reservations WHERE order_id = ANY(%s)",
}


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    ordered = sorted(values)

    def pick(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    return {
        "p50": pick(0.50),
        "p95": pick(0.95),
        "p99": pick(0.99),
        "max": ordered[-1],
        "mean": statistics.fmean(ordered),
    }


@dataclass
class Step:
    offered_per_s: float
    orders: int
    committed_per_s: float
    end_to_end_per_s: float = 0.0
    complete: bool = False
    commit_to_kafka_ms: list[float] = field(default_factory=list)
    commit_to_handled_ms: list[float] = field(default_factory=list)
    drained_s: float = 0.0
    cores: dict[str, float] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        return {
            "offered_per_s": self.offered_per_s,
            "orders": self.orders,
            "committed_per_s": round(self.committed_per_s, 1),
            "end_to_end_per_s": round(self.end_to_end_per_s, 1),
            "complete": self.complete,
            "commit_to_kafka_ms": percentiles(self.commit_to_kafka_ms),
            "commit_to_handled_ms": percentiles(self.commit_to_handled_ms),
            "waited_for_backlog_s": round(self.drained_s, 1),
            "cores": self.cores,
        }


def backlog(bootstrap: KafkaAccess, groups: list[str]) -> int:
    """Order events not yet committed by the slowest of ``groups``."""
    with admin(bootstrap) as a:
        committed = {g: a.list_group_offsets(g).get(g, {}) for g in groups}
    with consumer(bootstrap) as c:
        parts = [TopicPartition(ORDER_TOPIC, p) for p in c.partitions_for_topic(ORDER_TOPIC) or ()]
        end = c.end_offsets(parts)
    worst = 0
    for offsets in committed.values():
        got = {tp: meta.offset for tp, meta in offsets.items() if meta is not None}
        worst = max(worst, sum(end[tp] - got.get(tp, 0) for tp in parts))
    return worst


def wait_drained(bootstrap: KafkaAccess, groups: list[str], timeout: float = 600) -> float:
    """Wait until every group has handled all earlier events, so that a step measures its
    own load and not the backlog of the one before. Returns the seconds waited."""
    started = time.monotonic()
    while (left := backlog(bootstrap, groups)) > 0:
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"{left} events still unhandled after {timeout:.0f}s")
        time.sleep(0.5)
    return time.monotonic() - started


def kafka_times(
    bootstrap: KafkaAccess, start: dict[int, int], ids: list[uuid.UUID], timeout: float
) -> dict[uuid.UUID, float]:
    """Record timestamp (epoch s) of each order's first message after ``start`` (partition
    -> offset of the order topic)."""
    keys = {str(i) for i in ids}
    c = KafkaConsumer(**bootstrap.client(enable_auto_commit=False))
    c.assign([TopicPartition(ORDER_TOPIC, p) for p in start])
    for p, off in start.items():
        c.seek(TopicPartition(ORDER_TOPIC, p), off)
    found: dict[str, float] = {}
    deadline = time.monotonic() + timeout
    while len(found) < len(keys) and time.monotonic() < deadline:
        for records in c.poll(timeout_ms=300).values():
            for m in records:
                key = (m.key or b"").decode()
                if key in keys and key not in found:
                    found[key] = m.timestamp / 1000
    c.close()
    return {uuid.UUID(k): t for k, t in found.items()}


def _commit_times(conn: psycopg.Connection[Any], ids: list[uuid.UUID]) -> dict[uuid.UUID, float]:
    """Each order's commit time (epoch s), from Postgres."""
    rows = conn.execute(
        "SELECT id, pg_xact_commit_timestamp(xmin) FROM orders.orders WHERE id = ANY(%s)", (ids,)
    ).fetchall()
    return {oid: at.timestamp() for oid, at in rows}


def ms_since_commit(
    committed: dict[uuid.UUID, float], times: dict[uuid.UUID, float]
) -> list[float]:
    """Per order with both times, milliseconds from its commit to ``times`` (Kafka, handled)."""
    return [(times[oid] - at) * 1000 for oid, at in committed.items() if oid in times]


def handled_times(
    admin_dsn: str, ids: list[uuid.UUID], timeout: float
) -> tuple[dict[uuid.UUID, float], dict[uuid.UUID, float], bool]:
    """Order commit times, and per order the time the last of the three handlers committed."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        committed = _commit_times(conn, ids)
        while True:
            per_handler: dict[str, dict[uuid.UUID, datetime]] = {
                name: dict(conn.execute(q, (ids,)).fetchall()) for name, q in HANDLED.items()
            }
            complete = all(len(rows) == len(ids) for rows in per_handler.values())
            if complete or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    last: dict[uuid.UUID, float] = {}
    for oid in ids:
        times = [rows[oid] for rows in per_handler.values() if oid in rows]
        if len(times) == len(HANDLED):
            last[oid] = max(times).timestamp()
    return committed, last, complete


def offer(producer: Producer, *, orders: int, rate: float = 0.0, workers: int) -> SeedResult:
    """Orders through the service layer, ``rate`` per second (0: as fast as they go), no
    cancellations."""
    return seed(
        producer,
        client="bench",
        orders=max(1, orders),
        rate=rate,
        cancel_ratio=0.0,
        workers=workers,
        show_progress=False,
    )


def commit_to_kafka(
    producer: Producer, stack: StackSettings, *, rate: float, seconds: float, workers: int = 8
) -> list[float]:
    """Commit→Kafka latencies (ms) of orders offered at ``rate``, nothing else measured: run
    with the consumers stopped, it compares with the polling relay under the same load."""
    start = end_offsets(stack.kafka_as("tools"), ORDER_TOPIC)
    ids = offer(producer, orders=int(rate * seconds), rate=rate, workers=workers).placed_ids
    with psycopg.connect(stack.admin_dsn(), autocommit=True) as conn:
        committed = _commit_times(conn, ids)
    arrived = kafka_times(stack.kafka_as("tools"), start, ids, 60)
    return ms_since_commit(committed, arrived)


def run_step(
    producer: Producer,
    stack: StackSettings,
    *,
    rate: float,
    seconds: float,
    workers: int = 8,
    timeout: float = 120,
    groups: list[str],
    parts: dict[str, Callable[[], int | None]],
) -> Step:
    """One load step, after the backlog of earlier ones is handled; CPU is attributed to the
    stack's parts from the first order to the moment the last one is handled by all groups."""
    drained = wait_drained(stack.kafka_as("tools"), groups)
    start = end_offsets(stack.kafka_as("tools"), ORDER_TOPIC)
    before = cpu.snapshot(parts)
    result = offer(producer, orders=int(rate * seconds), rate=rate, workers=workers)
    ids = result.placed_ids
    step = Step(rate, len(ids), result.orders_per_second, drained_s=drained)
    committed, handled, step.complete = handled_times(stack.admin_dsn(), ids, timeout)
    step.cores = cpu.cores_used(before, cpu.snapshot(parts))
    arrived = kafka_times(stack.kafka_as("tools"), start, ids, timeout)
    step.commit_to_kafka_ms = ms_since_commit(committed, arrived)
    step.commit_to_handled_ms = ms_since_commit(committed, handled)
    if handled:
        first = min(committed.values())
        step.end_to_end_per_s = len(handled) / max(1e-6, max(handled.values()) - first)
    return step
