"""Records of odd shapes, as other clients write them to an event topic: a null key *and* a
null value (the Java client allows it, kafka-python does not, so the Java console producer
writes it), a tombstone (a key, no value), and a record that fits the topic but not once the
dead-letter headers are added."""

from __future__ import annotations

import subprocess

from kafka import KafkaProducer
from kafka.record.default_records import DefaultRecordBatchBuilder

from contract.codec import MARKER
from stack import jvm
from stack.layout import Layout

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


def null_record(layout: Layout, bootstrap: str, topic: str) -> None:
    """One record with no key and no value, through Kafka's own Java console producer."""
    cmd = jvm.tool_command(
        layout,
        "org.apache.kafka.tools.ConsoleProducer",
        "--bootstrap-server",
        bootstrap,
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


def tombstone_and_oversized(bootstrap: str, topic: str, key: bytes, partition: int = 0) -> int:
    """A tombstone, then an oversized record, both under ``key``; returns the value size."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", max_request_size=LIMIT)
    try:
        producer.send(topic, key=key, value=None, partition=partition)
        big = MARKER + b"x" * (largest_value(key) - len(MARKER))
        producer.send(topic, key=key, value=big, partition=partition)
        producer.flush()
    finally:
        producer.close()
    return len(big)
