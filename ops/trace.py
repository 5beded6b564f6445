"""``trace``: where is my event? Every hop of one order's events, with its time.

Given an order id, an event id, an ``Idempotency-Key`` or a trace id, it finds the order, and
for each of its events: when the transaction that wrote it committed (Postgres), where it
landed in Kafka and when (partition, offset, the record's timestamp: Debezium's), and what
each consumer group did with it (handled, with its commit time; dead-lettered, with the
reason from ``dlq.<group>``; or still pending, with the group's committed offset).

Clocks: the commit times are ``pg_xact_commit_timestamp`` (``track_commit_timestamp = on``)
of the rows each transaction wrote (the order's lines for the placement, the order row for a
cancellation; each group's ``processed_events`` row); the Kafka time is the record's. One
machine's clock in the native stack; across hosts, the latencies are as good as NTP.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import psycopg
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

from contract import headers as h
from contract.topics import ORDER_EVENTS, dlq_topic
from ops.scan import messages_of, partition_for

TRACE_ID = re.compile(r"^[0-9a-f]{32}$")


class NotFound(Exception):
    pass


@dataclass
class GroupHop:
    group: str
    state: str  # handled | dead_lettered | pending
    at: str | None = None
    after_kafka_ms: float | None = None
    reason: str | None = None
    committed_offset: int | None = None


@dataclass
class EventHops:
    event_id: str
    event_type: str
    committed_at: str | None
    partition: int
    offset: int
    kafka_at: str
    commit_to_kafka_ms: float | None
    traceparent: str | None
    groups: list[GroupHop] = field(default_factory=list)


@dataclass
class Trace:
    order_id: str
    found_by: str
    events: list[EventHops]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _ms(later: datetime | None, earlier: datetime | None) -> float | None:
    if later is None or earlier is None:
        return None
    return round((later - earlier).total_seconds() * 1000, 1)


def resolve(conn: psycopg.Connection[Any], consumer: KafkaConsumer, ident: str) -> tuple[str, str]:
    """(order id, what the identifier turned out to be)."""
    ident = ident.strip()
    if TRACE_ID.match(ident.lower()):
        for m in messages_of(consumer, ORDER_EVENTS):
            if (m.header(h.TRACEPARENT) or "").split("-")[1:2] == [ident.lower()]:
                return (m.key or b"").decode(), "trace id"
        raise NotFound(f"no event on {ORDER_EVENTS} carries trace id {ident}")
    try:
        as_uuid: uuid.UUID | None = uuid.UUID(ident)
    except ValueError:
        as_uuid = None
    if as_uuid is not None:
        if conn.execute("SELECT 1 FROM orders.orders WHERE id = %s", (as_uuid,)).fetchone():
            return str(as_uuid), "order id"
        row = conn.execute(
            "SELECT source FROM consumers.processed_events WHERE event_id = %s LIMIT 1", (as_uuid,)
        ).fetchone()
        if row is not None:  # "topic[partition]@offset": read that one record for its key
            found = re.match(r"^(.+)\[(\d+)\]@(\d+)$", row[0])
            if found:
                tp = TopicPartition(found[1], int(found[2]))
                for m in messages_of(consumer, tp.topic, only=[tp], start=int(found[3]), limit=1):
                    return (m.key or b"").decode(), "event id"
    row = conn.execute(
        "SELECT response->>'id' FROM orders.idempotency_keys WHERE key = %s", (ident,)
    ).fetchone()
    if row is not None and row[0]:
        return str(row[0]), "idempotency key"
    raise NotFound(
        f"{ident!r} is no order id, handled event id, Idempotency-Key or trace id we know"
    )


def commit_times(conn: psycopg.Connection[Any], order_id: str) -> dict[str, datetime | None]:
    """Commit time of the transaction behind each of the order's events, by event type."""
    placed = conn.execute(
        "SELECT min(pg_xact_commit_timestamp(xmin)) FROM orders.order_lines WHERE order_id = %s",
        (order_id,),
    ).fetchone()
    cancelled = conn.execute(
        "SELECT pg_xact_commit_timestamp(xmin) FROM orders.orders"
        " WHERE id = %s AND status = 'cancelled'",
        (order_id,),
    ).fetchone()
    return {
        "OrderPlaced": placed[0] if placed else None,
        "OrderCancelled": cancelled[0] if cancelled else None,
    }


def group_hops(
    conn: psycopg.Connection[Any],
    consumer: KafkaConsumer,
    committed: dict[str, dict[TopicPartition, Any]],
    event: EventHops,
    kafka_at: datetime,
) -> list[GroupHop]:
    rows = conn.execute(
        "SELECT consumer_group, outcome, pg_xact_commit_timestamp(xmin)"
        " FROM consumers.processed_events WHERE event_id = %s",
        (event.event_id,),
    ).fetchall()
    done = {g: (outcome, at) for g, outcome, at in rows}
    hops = []
    for group in sorted(set(committed) | set(done)):
        if group in done:
            outcome, at = done[group]
            hop = GroupHop(group, outcome, at.isoformat() if at else None, _ms(at, kafka_at))
            if outcome == "dead_lettered":
                hop.reason = dead_letter_reason(consumer, group, event.event_id)
        else:
            meta = committed[group].get(TopicPartition(ORDER_EVENTS, event.partition))
            hop = GroupHop(group, "pending", committed_offset=meta.offset if meta else None)
        hops.append(hop)
    return hops


def dead_letter_reason(consumer: KafkaConsumer, group: str, event_id: str) -> str | None:
    topic = dlq_topic(group)
    if topic not in consumer.topics():
        return None
    for m in messages_of(consumer, topic):
        if m.header(h.EVENT_ID) == event_id:
            return m.header(h.DLQ_REASON)
    return None


def trace(
    conn: psycopg.Connection[Any],
    admin: KafkaAdminClient,
    consumer: KafkaConsumer,
    groups: list[str],
    ident: str,
) -> Trace:
    order_id, found_by = resolve(conn, consumer, ident)
    placed = conn.execute("SELECT placed_at FROM orders.orders WHERE id = %s", (order_id,))
    row = placed.fetchone()
    since_ms = int(row[0].timestamp() * 1000) - 60_000 if row else None
    committed_at = commit_times(conn, order_id)
    committed = {g: admin.list_group_offsets(g).get(g, {}) for g in groups}
    tp = TopicPartition(ORDER_EVENTS, partition_for(consumer, ORDER_EVENTS, order_id.encode()))
    events = []
    for m in messages_of(consumer, ORDER_EVENTS, only=[tp], since_ms=since_ms, key=order_id):
        kafka_at = datetime.fromtimestamp(m.timestamp_ms / 1000).astimezone()
        event_type = m.header(h.EVENT_TYPE) or "unknown"
        at = committed_at.get(event_type)
        hops = EventHops(
            event_id=m.header(h.EVENT_ID) or "",
            event_type=event_type,
            committed_at=at.isoformat() if at else None,
            partition=m.partition,
            offset=m.offset,
            kafka_at=kafka_at.isoformat(),
            commit_to_kafka_ms=_ms(kafka_at, at),
            traceparent=m.header(h.TRACEPARENT),
        )
        hops.groups = group_hops(conn, consumer, committed, hops, kafka_at)
        events.append(hops)
    return Trace(order_id, found_by, events)
