"""Records of odd shapes, as other clients write them to an event topic: a null key *and* a
null value (the Java client allows it, kafka-python does not, so the Java console producer
writes it), a tombstone (a key, no value), and a record that fits the topic but not once the
dead-letter headers are added."""

from __future__ import annotations

import subprocess
import time

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.record.default_records import DefaultRecordBatchBuilder

from contract.codec import MARKER
from contract.kafka import KafkaAccess
from stack import jvm
from stack.layout import Layout
from stack.secrets import write_private

# Kafka's default request and message limit. The oversized record is the largest that still
# fits it (within a few bytes): accepted by the broker, but not once the dead-letter headers
# (some 200 bytes) are added.
LIMIT = 1_048_576
MARGIN = 16


def largest_value(key: bytes) -> int:
    """The value size that brings a record with ``key`` and no headers up to the limit."""
    size = LIMIT - MARGIN
    overhead = int(DefaultRecordBatchBuilder.estimate_size_in_bytes(key, b"x" * size, [])) - size
    return LIMIT - MARGIN - overhead


def null_record(layout: Layout, bootstrap: KafkaAccess, topic: str) -> None:
    """One record with no key and no value, through Kafka's own Java console producer (its
    login in a 0600 properties file, not on the command line, where ``ps`` would show it)."""
    login = layout.conf / "chaos-producer.properties"
    write_private(login, jvm.properties(bootstrap.java_properties()))
    cmd = jvm.tool_command(
        layout,
        "org.apache.kafka.tools.ConsoleProducer",
        "--bootstrap-server",
        bootstrap.bootstrap_servers,
        "--command-config",
        str(login),
        "--topic",
        topic,
        "--reader-property",
        "parse.key=true",
        "--reader-property",
        "null.marker=NULL",
        "--reader-property",
        "key.separator=|",
    )
    done = subprocess.run(cmd, input="NULL|NULL\n", capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"console producer failed: {done.stderr[-1500:]}")


def tombstone_and_oversized(
    bootstrap: KafkaAccess, topic: str, key: bytes, partition: int = 0
) -> int:
    """A tombstone, then an oversized record, both under ``key``; returns the value size."""
    producer = KafkaProducer(**bootstrap.client(acks="all", max_request_size=LIMIT))
    try:
        producer.send(topic, key=key, value=None, partition=partition)
        big = MARKER + b"x" * (largest_value(key) - len(MARKER))
        producer.send(topic, key=key, value=big, partition=partition)
        producer.flush()
    finally:
        producer.close()
    return len(big)


def ends(bootstrap: KafkaAccess, topic: str) -> dict[TopicPartition, int]:
    c = KafkaConsumer(**bootstrap.client())
    try:
        parts = [TopicPartition(topic, p) for p in c.partitions_for_topic(topic) or ()]
        return dict(c.end_offsets(parts))
    finally:
        c.close()


def odd_since(
    bootstrap: KafkaAccess, before: dict[TopicPartition, int]
) -> list[tuple[str, int, int]]:
    """Positions of the records written since ``before`` that are not outbox events (no id
    header): the odd ones this fault wrote, wherever the partitioner put them."""
    c = KafkaConsumer(**bootstrap.client(enable_auto_commit=False))
    try:
        end = c.end_offsets(list(before))
        c.assign(list(before))
        for tp, offset in before.items():
            c.seek(tp, offset)
        found = []
        deadline = time.monotonic() + 60
        while any(c.position(tp) < end[tp] for tp in before) and time.monotonic() < deadline:
            for tp, batch in c.poll(timeout_ms=500, max_records=100).items():
                for m in batch:
                    if m.offset < end[tp] and not any(k == "id" for k, _ in m.headers or ()):
                        found.append((tp.topic, tp.partition, m.offset))
        return found
    finally:
        c.close()
