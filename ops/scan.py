"""Reading a bounded stretch of a topic without joining a group: from a start (an offset, a
time or the beginning) up to the end offsets as they were when the scan began, so a topic
being written to still ends. Used by ``trace``."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from kafka import KafkaConsumer, TopicPartition
from kafka.partitioner.default import murmur2

from contract.cli import BadArgument

# A scan without a key reads at most this many records per partition (a trace id lookup).
MAX_PER_PARTITION = 200_000


@dataclass(frozen=True)
class Record:
    partition: int
    offset: int
    key: bytes | None
    timestamp_ms: int
    headers: tuple[tuple[str, bytes | None], ...]

    def header(self, name: str) -> str | None:
        for k, v in self.headers:
            if k == name and v is not None:
                return v.decode("utf-8", "replace")
        return None


def partition_for(consumer: KafkaConsumer, topic: str, key: bytes) -> int:
    """The partition Kafka's default partitioner sends ``key`` to (murmur2, as Connect's
    producer does for the outbox router's records)."""
    count = len(consumer.partitions_for_topic(topic) or ())
    if count == 0:
        raise BadArgument(f"no topic {topic!r} (make topics lists them)")
    return int((murmur2(key) & 0x7FFFFFFF) % count)


def messages_of(
    consumer: KafkaConsumer,
    topic: str,
    *,
    only: list[TopicPartition] | None = None,
    start: int | None = None,
    since_ms: int | None = None,
    key: str | None = None,
    limit: int | None = None,
) -> Iterator[Record]:
    """Records of ``topic`` (``only`` these partitions), from offset ``start``, or from the
    first at or after ``since_ms``, or from the last ``MAX_PER_PARTITION``; with ``key``, only
    that key's. Stops at the end offsets read when it began, or after ``limit`` records."""
    tps = only or [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))]
    consumer.assign(tps)
    ends = consumer.end_offsets(tps)
    begins = consumer.beginning_offsets(tps)
    at_time = consumer.offsets_for_times({tp: since_ms for tp in tps}) if since_ms else {}
    for tp in tps:
        if start is not None:
            offset = start
        elif since_ms is not None:
            found = at_time.get(tp)
            offset = found.offset if found is not None else ends[tp]
        else:
            offset = max(begins[tp], ends[tp] - MAX_PER_PARTITION)
        consumer.seek(tp, offset)
    pending = {tp for tp in tps if consumer.position(tp) < ends[tp]}
    yielded = 0
    while pending:
        batch = consumer.poll(timeout_ms=1000, max_records=2000)
        if not batch and all(consumer.position(tp) >= ends[tp] for tp in pending):
            break
        for tp, records in batch.items():
            for r in records:
                if r.offset >= ends[tp]:
                    pending.discard(tp)
                    break
                if key is None or (r.key or b"").decode("utf-8", "replace") == key:
                    yield Record(r.partition, r.offset, r.key, r.timestamp, tuple(r.headers or ()))
                    yielded += 1
                    if limit is not None and yielded >= limit:
                        return
            if consumer.position(tp) >= ends[tp]:
                pending.discard(tp)
