"""A partition waits at an event written with a newer schema than the process knows; every
other unreadable message still goes the dead-letter way (``consumer_runtime.newer_schemas``)."""

from __future__ import annotations

import dataclasses
import time
import uuid
from typing import Any, cast

from kafka import TopicPartition

from consumer_runtime import HandlerContext, handler
from consumer_runtime.message import Message
from consumer_runtime.newer_schemas import NewerSchemaGate
from consumers.events import EVENT_TYPES, OrderCancelled, OrderPlaced
from contract import AvroCodec, SchemaRepository
from contract import headers as h
from tests import factories
from tests.consumer_fakes import FakeDatabase, RecordingSink, processor_for

FULL = SchemaRepository.load()
# A consumer deployed before OrderPlaced v3 existed.
OLD = SchemaRepository([v for v in FULL if v.label != "OrderPlaced v3"])
NOW_S = 1_800_000_000.0


def message(version: int, *, partition: int = 0, offset: int = 0, header: bool = True) -> Message:
    writer = FULL.get("OrderPlaced", version)
    record = factories.placed_record()
    if version >= 3:
        record["item_count"] = 3
    headers: list[tuple[str, bytes | None]] = [
        (h.EVENT_ID, str(record["event_id"]).encode()),
        (h.EVENT_TYPE, b"OrderPlaced"),
    ]
    if header:
        headers.append((h.SCHEMA_VERSION, str(version).encode()))
    value = AvroCodec(FULL).encode(record, writer)
    key = str(uuid.uuid4()).encode()
    return Message("t", partition, offset, key, value, tuple(headers), int(NOW_S * 1000) - 5_000)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def gate(clock: Clock | None = None, max_wait: float = 3600) -> NewerSchemaGate:
    return NewerSchemaGate(
        OLD,
        EVENT_TYPES,
        "g",
        max_wait=max_wait,
        recheck=30,
        clock=clock or Clock(),
        wall_clock=lambda: NOW_S,
    )


class Consumer:
    def __init__(self) -> None:
        self.seeks: list[tuple[TopicPartition, int]] = []
        self.paused: set[TopicPartition] = set()

    def assignment(self) -> set[TopicPartition]:
        return {TopicPartition("t", p) for p in range(6)}

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.seeks.append((tp, offset))

    def pause(self, *tps: TopicPartition) -> None:
        self.paused |= set(tps)

    def resume(self, *tps: TopicPartition) -> None:
        self.paused -= set(tps)


def test_the_partition_waits_at_the_first_newer_event_and_the_others_go_on() -> None:
    g = gate()
    batch = [
        message(2, offset=10),
        message(3, offset=11),
        message(2, offset=12),  # after the wait point: its turn comes after the upgrade
        message(2, partition=1, offset=40),
    ]
    ready, held = g.split(batch)
    assert [(m.partition, m.offset) for m in ready] == [(0, 10), (1, 40)]
    [(tp, where)] = held.items()
    assert (tp, where.offset, where.event_type, where.version) == (
        TopicPartition("t", 0),
        11,
        "OrderPlaced",
        3,
    )
    consumer = Consumer()
    g.hold(cast(Any, consumer), held)
    assert consumer.seeks == [(TopicPartition("t", 0), 11)]
    assert consumer.paused == {TopicPartition("t", 0)}


def test_a_process_that_knows_the_version_reads_it() -> None:
    upgraded = NewerSchemaGate(
        FULL, EVENT_TYPES, "g", max_wait=60, clock=Clock(), wall_clock=lambda: NOW_S
    )
    batch = [message(3, offset=11)]
    assert upgraded.split(batch) == (batch, {})


def test_unknown_bytes_that_claim_no_newer_version_are_left_to_the_dead_letter_path() -> None:
    g = gate()
    forged = dataclasses.replace(message(2), value=b"\xc3\x01" + b"\x99" * 8 + b"\x00")
    no_header = message(3, header=False)
    claims_v2 = dataclasses.replace(
        message(3),
        headers=tuple((k, b"2" if k == h.SCHEMA_VERSION else v) for k, v in message(3).headers),
    )
    not_avro = dataclasses.replace(message(3), value=b"{}")
    batch = [forged, no_header, claims_v2, not_avro]
    assert g.split(batch) == (batch, {})


def test_the_wait_ends_at_its_bound_from_the_event_time_and_it_is_let_through() -> None:
    g = gate(max_wait=4)  # the event was written 5 s before now
    batch = [message(3, offset=11)]
    assert g.split(batch) == (batch, {})


def test_held_partitions_are_looked_at_again_every_recheck_and_forgotten_when_taken() -> None:
    clock, consumer = Clock(), cast(Any, Consumer())  # the calls the gate makes, no more
    g = gate(clock)
    tp = TopicPartition("t", 0)
    g.hold(consumer, g.split([message(3, offset=11)])[1])
    g.turned(consumer, {tp})
    assert consumer.paused == set(), "the first turn looks again at once"
    g.hold(consumer, g.split([message(3, offset=11)])[1])
    clock.now += 10
    g.turned(consumer, {tp})
    assert consumer.paused == {tp}, "not before the recheck interval"
    clock.now += 25
    g.turned(consumer, {tp})
    assert consumer.paused == set()
    assert g.held[tp].since == 100.0, "still the same wait: it started at the first hold"
    g.turned(consumer, set())
    assert g.held == {}


def test_an_applied_message_past_the_wait_point_ends_the_wait() -> None:
    g = gate()
    g.split([message(3, offset=11)])
    g.passed([message(2, offset=11)])
    assert g.held == {}


def test_the_processor_applies_the_rest_and_reports_the_waiting_partition() -> None:
    handled: list[Any] = []
    turns: list[Any] = []

    @handler("g")
    def record(event: OrderPlaced | OrderCancelled, ctx: HandlerContext) -> None:
        handled.append(event)

    telemetry = type(
        "T",
        (),
        {
            "clean_batches": lambda *a: None,
            "settled": lambda *a: None,
            "timed": lambda *a: None,
            "batch": lambda *a: None,
            "committed": lambda *a: None,
            "turned": lambda self, turn: turns.append(turn),
        },
    )()
    batch = [message(2, offset=10), message(3, offset=11), message(2, partition=1, offset=3)]
    # Written now: the runtime's gate reads the wall clock and waits up to a day.
    batch = [dataclasses.replace(m, timestamp_ms=int(time.time() * 1000)) for m in batch]
    processor = processor_for(
        [batch],
        FakeDatabase(),
        record,
        RecordingSink(),
        codec=AvroCodec(OLD),  # a process deployed without v3: its gate holds v3
        telemetry=telemetry,
    )
    processor.poll_once()
    assert len(handled) == 2
    assert processor.stats["dead_lettered"] == 0
    assert processor.assignment() >= {TopicPartition("t", 0)}
    processor.run(until=lambda p: bool(turns))
    assert turns[-1].waiting_for_schema == 1
