"""Limits of this machine, measured with nothing of the pipeline in the way:

- bare order + outbox transactions/s (psycopg, the same rows the app writes, no ORM),
- raw kafka-python produce and consume messages/s at our message size on our broker,
- fastavro single-object encode and decode records/s for our schemas.
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import psycopg
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic

from contract import AvroCodec, SchemaRepository
from contract.kafka import KafkaAccess
from producer_app.settings import ProducerSettings

ORDER = (
    "INSERT INTO orders.orders (id, customer_id, currency, status, total_cents, "
    "sales_channel, placed_at) VALUES (%s, 'bench', 'EUR', 'placed', 1998, 'web', now())"
)
LINES = (
    "INSERT INTO orders.order_lines VALUES (%s, 1, 'SKU-0001', 1, 999), (%s, 2, 'SKU-0002', 1, 999)"
)
OUTBOX = (
    "INSERT INTO orders.outbox (id, aggregate_type, aggregate_id, event_type, payload) "
    "VALUES (%s, 'bench', %s, 'OrderPlaced', %s)"
)


def sample_record() -> dict[str, Any]:
    from datetime import UTC, datetime
    from decimal import Decimal

    return {
        "event_id": uuid.uuid4(),
        "order_id": uuid.uuid4(),
        "customer_id": "cust-00042",
        "currency": "EUR",
        "lines": [
            {"sku": f"SKU-{i:04d}", "quantity": i, "unit_price": Decimal("19.99")}
            for i in range(1, 4)
        ],
        "total": Decimal("119.94"),
        "placed_at": datetime.now(UTC),
        "sales_channel": "web",
    }


def bare_order(conn: psycopg.Connection[Any], payload: bytes) -> None:
    """One order, two lines and an outbox row inserted and deleted, committed: what the app
    writes per order, without the app."""
    oid, eid = uuid.uuid4(), uuid.uuid4()
    with conn.transaction():
        conn.execute(ORDER, (oid,))
        conn.execute(LINES, (oid, oid))
        conn.execute(OUTBOX, (eid, str(oid), payload))
        conn.execute("DELETE FROM orders.outbox WHERE id = %s", (eid,))


def bare_transactions(settings: ProducerSettings, *, seconds: float, connections: int) -> float:
    """Order + 2 lines + outbox insert and delete, committed, on ``connections`` threads."""
    dsn = settings.conninfo()
    payload = AvroCodec(SchemaRepository.load()).encode(
        sample_record(), SchemaRepository.load().get("OrderPlaced")
    )
    counts = [0] * connections
    deadline = time.monotonic() + seconds

    def run(i: int) -> None:
        with psycopg.connect(dsn) as conn:
            while time.monotonic() < deadline:
                bare_order(conn, payload)
                counts[i] += 1

    started = time.monotonic()
    threads = [threading.Thread(target=run, args=(i,)) for i in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(counts) / (time.monotonic() - started)


def kafka_raw(bootstrap: KafkaAccess, *, messages: int, size: int) -> tuple[float, float]:
    """(produce msgs/s, consume msgs/s) for ``messages`` of ``size`` bytes on a fresh topic."""
    topic = f"bench.raw.{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(**bootstrap.client())
    admin.create_topics([NewTopic(topic, 6, 1)])
    try:
        value = b"x" * size
        producer = KafkaProducer(**bootstrap.client(acks="all", linger_ms=5, batch_size=256 * 1024))
        started = time.perf_counter()
        for i in range(messages):
            producer.send(topic, key=str(i % 1000).encode(), value=value)
        producer.flush()
        produce = messages / (time.perf_counter() - started)
        producer.close()
        # Assigned, not subscribed: no group join to wait for, so the clock can start before
        # the first fetch (starting it at the first records left their fetch out of the time:
        # a 2,000-message quick run came out at millions per second).
        consumer = KafkaConsumer(**bootstrap.client(), enable_auto_commit=False)
        consumer.assign([TopicPartition(topic, p) for p in range(6)])
        consumer.seek_to_beginning()
        seen, started = 0, time.perf_counter()
        while seen < messages:
            for records in consumer.poll(timeout_ms=500, max_records=2000).values():
                seen += len(records)
        consume = seen / (time.perf_counter() - started)
        consumer.close()
        return produce, consume
    finally:
        admin.delete_topics([topic])
        admin.close()


def avro_codec(records: int) -> tuple[float, float, int]:
    """(encode/s, decode/s, bytes per message) with the newest OrderPlaced writer schema."""
    repo = SchemaRepository.load()
    codec, writer = AvroCodec(repo), repo.get("OrderPlaced")
    record = sample_record()
    started = time.perf_counter()
    for _ in range(records):
        data = codec.encode(record, writer)
    encode = records / (time.perf_counter() - started)
    started = time.perf_counter()
    for _ in range(records):
        codec.decode(data, writer)
    decode = records / (time.perf_counter() - started)
    return encode, decode, len(data)
