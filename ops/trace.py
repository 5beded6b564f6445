"""``trace``: where is my event? Every hop of one order's events, with its time.

Given an order id, an event id, an ``Idempotency-Key`` or a trace id, it finds the order, and
for each of its events: when the transaction that wrote it committed (Postgres), where it
landed in Kafka and when (partition, offset, the record's timestamp: Debezium's), and what
each consumer group did with it (handled, with its commit time; dead-lettered, with the
reason from ``dlq.<group>``; or still pending, with the group's committed offset).

An event written again by ``make republish`` keeps its id: it is one event with copies on
the topic, each group's hop measured from the copy it could have read (the last one before
it), so a re-publish adds no event and no negative latency. A dead letter settled by ``make
dlq-skip`` shows who skipped it and why.

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
from contract.cli import BadArgument
from contract.topics import ORDER_EVENTS, dlq_topic
from ops.scan import Record, messages_of, partition_for

TRACE_ID = re.compile(r"^[0-9a-f]{32}$")
# W3C traceparent, as the API returns it: version-traceid-spanid-flags.
TRACEPARENT = re.compile(r"^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$")


class NotFound(BadArgument):
    """The identifier names nothing we know: a bad argument (exit 2)."""


@dataclass
class GroupHop:
    group: str
    state: str  # handled | dead_lettered | skipped | pending
    at: str | None = None
    after_kafka_ms: float | None = None
    reason: str | None = None  # why it was dead-lettered
    committed_offset: int | None = None
    skipped_by: str | None = None  # make dlq-skip: who, and why
    skip_reason: str | None = None


@dataclass
class Copy:
    """The same event written to the topic again (``make republish``)."""

    partition: int
    offset: int
    kafka_at: str


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
    republished: list[Copy] = field(default_factory=list)


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
    parent = TRACEPARENT.match(ident.lower())
    if parent or TRACE_ID.match(ident.lower()):
        trace_id = parent[1] if parent else ident.lower()
        for m in messages_of(consumer, ORDER_EVENTS):
            if (m.header(h.TRACEPARENT) or "").split("-")[1:2] == [trace_id]:
                return (m.key or b"").decode(), "traceparent" if parent else "trace id"
        raise NotFound(f"no event on {ORDER_EVENTS} carries trace id {trace_id}")
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
        f"ID={ident[:80]!r} is no order id, handled event id, Idempotency-Key, traceparent or "
        "trace id we know"
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


GROUP_ROWS = """
    SELECT p.consumer_group, p.outcome, pg_xact_commit_timestamp(p.xmin), s.skipped_by, s.reason
    FROM consumers.processed_events p
    LEFT JOIN consumers.dead_letter_skips s USING (consumer_group, event_id)
    WHERE p.event_id = %s
"""


def group_hops(
    conn: psycopg.Connection[Any],
    consumer: KafkaConsumer,
    committed: dict[str, dict[TopicPartition, Any]],
    event: EventHops,
    copies: list[datetime],
) -> list[GroupHop]:
    """Each group's hop; its latency from the last copy on the topic before it (``copies``:
    the Kafka times of the event's copies, oldest first)."""
    rows = conn.execute(GROUP_ROWS, (event.event_id,)).fetchall()
    done = {g: rest for g, *rest in rows}
    hops = []
    for group in sorted(set(committed) | set(done)):
        if group in done:
            outcome, at, skipped_by, skip_reason = done[group]
            read = max((c for c in copies if at is None or c <= at), default=copies[0])
            hop = GroupHop(group, outcome, at.isoformat() if at else None, _ms(at, read))
            if outcome in ("dead_lettered", "skipped"):
                hop.reason = dead_letter_reason(consumer, group, event.event_id)
                hop.skipped_by, hop.skip_reason = skipped_by, skip_reason
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
    # Read to the end first: looking up a dead letter's reason reassigns the same consumer.
    records = list(messages_of(consumer, ORDER_EVENTS, only=[tp], since_ms=since_ms, key=order_id))
    copies: dict[str, list[Record]] = {}
    for m in records:
        copies.setdefault(m.header(h.EVENT_ID) or f"@{m.offset}", []).append(m)
    events = []
    for same in copies.values():
        first, times = same[0], [_kafka_time(m) for m in same]
        event_type = first.header(h.EVENT_TYPE) or "unknown"
        at = committed_at.get(event_type)
        hops = EventHops(
            event_id=first.header(h.EVENT_ID) or "",
            event_type=event_type,
            committed_at=at.isoformat() if at else None,
            partition=first.partition,
            offset=first.offset,
            kafka_at=times[0].isoformat(),
            commit_to_kafka_ms=_ms(times[0], at),
            traceparent=first.header(h.TRACEPARENT),
            republished=[
                Copy(m.partition, m.offset, t.isoformat())
                for m, t in zip(same[1:], times[1:], strict=True)
            ],
        )
        hops.groups = group_hops(conn, consumer, committed, hops, times)
        events.append(hops)
    return Trace(order_id, found_by, events)


def _kafka_time(m: Record) -> datetime:
    return datetime.fromtimestamp(m.timestamp_ms / 1000).astimezone()
