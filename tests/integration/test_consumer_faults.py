"""Faults that are nobody's message: the consumer waits them out, dead-letters nothing and
skips nothing, and applies everything once the fault is gone. And records of odd shapes: each
is dead-lettered (reduced when it cannot be written as it is) and the group carries on.

Every test runs the real runtime against the real Postgres and Kafka, on a topic and a
group of its own (``Rig``)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from kafka import KafkaAdminClient, KafkaConsumer

from chaos import records
from consumers.bootstrap import Running, bootstrap
from consumers.runtime.processor import EventProcessor
from stack.layout import Layout
from tests.conftest import ROOT
from tests.integration.conftest import Rig, run_until

pytestmark = pytest.mark.integration


class Background:
    """A processor running in a thread, as in production, until ``stop()``."""

    def __init__(self, running: Running) -> None:
        self.running = running
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self.running.processor.run(until=lambda p: self._stop.is_set())
        except BaseException as exc:  # the test asserts there was none
            self.error = exc

    @property
    def processor(self) -> EventProcessor:
        return self.running.processor

    def alive(self) -> bool:
        return self._thread.is_alive()

    def wait(self, done: Callable[[EventProcessor], bool], timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while not done(self.processor):
            assert self.alive(), f"the processor exited: {self.error!r}"
            assert time.monotonic() < deadline, f"not done in {timeout}s: {self.processor.stats}"
            time.sleep(0.2)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(60)
        self.running.close()


def committed(rig: Rig, group: str | None = None) -> int:
    """Offsets the group committed on the test topic, summed over partitions."""
    admin = KafkaAdminClient(bootstrap_servers=rig.bootstrap_servers)
    try:
        name = group or rig.group
        offsets = admin.list_group_offsets(name).get(name, {})
    finally:
        admin.close()
    return sum(o.offset for tp, o in offsets.items() if tp.topic == rig.topic)


def dead_letters(rig: Rig) -> list[Any]:
    c = KafkaConsumer(
        f"dlq.{rig.group}",
        bootstrap_servers=rig.bootstrap_servers,
        auto_offset_reset="earliest",
        consumer_timeout_ms=5_000,
        max_partition_fetch_bytes=4 << 20,
    )
    try:
        return list(c)
    finally:
        c.close()


def test_null_tombstone_and_oversized_records_are_dead_lettered_and_the_group_goes_on(
    rig: Rig,
) -> None:
    records.null_record(Layout(ROOT), rig.bootstrap_servers, rig.topic)
    size = records.tombstone_and_oversized(rig.bootstrap_servers, rig.topic, b"order-x")
    rig.produce(rig.placed(3, partitions=1))

    running = rig.start()
    try:
        run_until(running.processor, lambda p: p.stats["handled"] >= 3)
    finally:
        running.close()
    stats = running.processor.stats
    assert (stats["handled"], stats["dead_lettered"]) == (3, 3)
    assert committed(rig) == 6  # every offset moved past: nothing stuck, nothing skipped

    letters = {dict(m.headers).get("dlq.omitted"): m for m in dead_letters(rig)}
    assert set(letters) == {b"key and value", None, b"value"}
    null, tombstone, oversized = letters[b"key and value"], letters[None], letters[b"value"]
    assert dict(null.headers)["dlq.reason"].startswith(b"poison: message has no value")
    assert dict(tombstone.headers)["dlq.reason"].startswith(b"poison: message has no value")
    headers = dict(null.headers)  # reduced, keyed by its origin
    assert null.key == f"{rig.topic}[{headers['dlq.partition'].decode()}]@0".encode()
    assert (null.value, headers["dlq.omitted"]) == (None, b"key and value")
    assert (tombstone.key, tombstone.value) == (b"order-x", None)  # writable as it is
    assert "dlq.omitted" not in dict(tombstone.headers)
    headers = dict(oversized.headers)  # too large with our headers: value left out
    assert (oversized.key, oversized.value) == (b"order-x", None)
    assert headers["dlq.original_size"] == str(size).encode()
    assert b"MessageSizeTooLargeError" in headers["dlq.reason"]

    # The same records read again from the start (a reset, a new instance): their marks in
    # processed_events make them duplicates, and nothing is dead-lettered twice.
    again = bootstrap(rig.settings(), rig.registration(), kafka_group=f"{rig.group}-again")
    try:
        run_until(again.processor, lambda p: p.stats["duplicate"] >= 6)
    finally:
        again.close()
    assert again.processor.stats["dead_lettered"] == 0
    assert len(dead_letters(rig)) == 3
    admin = KafkaAdminClient(bootstrap_servers=rig.bootstrap_servers)
    admin.delete_groups([f"{rig.group}-again"])
    admin.close()
