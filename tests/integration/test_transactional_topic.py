"""A group reading a topic written in Kafka transactions, as Connect's exactly-once source
writes the event topic: an aborted transaction's events are never handled (the consumers read
``read_committed``), and once the group is idle its committed offsets reach the end of the
partition, past the commit markers (committing the last message + 1 left it one behind per
marker for good, a lag no check could tell from an unhandled event)."""

from __future__ import annotations

import time
import uuid

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition

from tests.integration.conftest import Rig, run_until

pytestmark = pytest.mark.integration


def _write_in_transactions(rig: Rig) -> list[uuid.UUID]:
    """Three transactions on partition 0: committed, aborted, committed. Returns the ids of
    the aborted one's events."""
    producer = KafkaProducer(
        **rig.bootstrap_servers.client(transactional_id=f"it-tx-{uuid.uuid4().hex[:8]}")
    )
    producer.init_transactions()
    aborted: list[uuid.UUID] = []
    for n, commit in ((3, True), (2, False), (2, True)):
        messages = rig.placed(n)
        if not commit:
            aborted += rig.event_ids[-n:]
        producer.begin_transaction()
        for partition, key, value, headers in messages:
            producer.send(rig.topic, key=key, value=value, headers=headers, partition=partition)
        if commit:
            producer.commit_transaction()
        else:
            producer.flush()
            producer.abort_transaction()
    producer.close()
    return aborted


def _lag(rig: Rig) -> int:
    tp = TopicPartition(rig.topic, 0)
    admin = KafkaAdminClient(**rig.bootstrap_servers.client())
    consumer = KafkaConsumer(**rig.bootstrap_servers.client())
    try:
        committed = admin.list_group_offsets(rig.group).get(rig.group, {}).get(tp)
        end = consumer.end_offsets([tp])[tp]
    finally:
        admin.close()
        consumer.close()
    return int(end - (committed.offset if committed is not None else 0))


def test_aborted_events_are_not_handled_and_the_group_reaches_the_end(rig: Rig) -> None:
    aborted = _write_in_transactions(rig)
    running = rig.start()
    checked = {"at": 0.0, "lag": -1}

    def caught_up(p: object) -> bool:
        if time.monotonic() - checked["at"] >= 2:
            checked.update(at=time.monotonic(), lag=_lag(rig))
        return checked["lag"] == 0

    try:
        run_until(running.processor, lambda p: p.stats["handled"] >= 5)
        run_until(running.processor, caught_up, timeout=45)
    finally:
        running.close()
    assert running.processor.stats["handled"] == 5
    handled = {
        row[0]
        for row in rig.sql(
            "SELECT event_id FROM consumers.notifications WHERE event_id = ANY(%s)", rig.event_ids
        )
    }
    assert handled.isdisjoint(aborted)
    assert len(handled) == 5
