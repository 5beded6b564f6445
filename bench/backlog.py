"""Backlog drain: how fast a relay empties an outbox that filled while it was away.

Both relays are timed the same way, from the Kafka record timestamps of the drained events
(first to last), so neither start-up nor the reading back is counted: Debezium after its
connector is resumed, the polling relay after it is started on pre-written rows.
"""

from __future__ import annotations

import time

from kafka import KafkaConsumer, TopicPartition

from contract.kafka import KafkaAccess


def drain_rate(
    bootstrap: KafkaAccess,
    topic: str,
    since: dict[int, int],
    count: int,
    timeout: float = 120,
) -> float:
    """Events/s between the first and the last of ``count`` records written after ``since``
    (partition -> offset; ``contract.kafka_reads.end_offsets``). Connect and our producer
    stamp create time on this machine's clock."""
    c = KafkaConsumer(**bootstrap.client(enable_auto_commit=False))
    c.assign([TopicPartition(topic, p) for p in since])
    for p, offset in since.items():
        c.seek(TopicPartition(topic, p), offset)
    stamps: list[int] = []
    deadline = time.monotonic() + timeout
    while len(stamps) < count and time.monotonic() < deadline:
        for records in c.poll(timeout_ms=300).values():
            stamps += [m.timestamp for m in records]
    c.close()
    if len(stamps) < count:
        raise TimeoutError(f"only {len(stamps)} of {count} records on {topic} in {timeout:.0f}s")
    span = (max(stamps) - min(stamps)) / 1000
    return count / max(span, 1e-3)
