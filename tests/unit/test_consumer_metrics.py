"""The consumers' telemetry with fakes: what is counted, when (only after the database
commit), and how health is judged from the gauges."""

from __future__ import annotations

import dataclasses
from typing import Any, cast

from kafka.structs import TopicPartition
from prometheus_client import CollectorRegistry

from consumer_runtime import HandlerContext, handler
from consumer_runtime.errors import Outage
from consumer_runtime.offsets import Progress
from consumer_runtime.ports import Turn
from consumer_runtime.processor import EventProcessor
from consumers.events import OrderPlaced
from consumers.observability import health
from consumers.observability.metrics import PrometheusTelemetry
from contract import AvroCodec, SchemaRepository
from tests import factories
from tests.consumer_fakes import FakeDatabase, RecordingSink, processor_for

CODEC = AvroCodec(SchemaRepository.load())


def _value(registry: CollectorRegistry, name: str, **labels: str) -> float:
    return registry.get_sample_value(name, labels) or 0.0


def _processor(
    handle: Any, batches: list[list[Any]], db: FakeDatabase, registry: CollectorRegistry
) -> EventProcessor:
    telemetry = PrometheusTelemetry(registry, clock=lambda: 1000.0)
    options = {"lag_interval": 0}
    return processor_for(batches, db, handle, RecordingSink(), telemetry=telemetry, options=options)


@handler("g")
def nothing(event: OrderPlaced, ctx: HandlerContext) -> None: ...


def _batch(n: int, **kw: Any) -> list[Any]:
    return [
        dataclasses.replace(
            factories.kafka_message(factories.placed_record(), offset=i), timestamp_ms=999_500
        )
        for i in range(n)
    ]


def test_outcomes_are_counted_once_their_transaction_committed() -> None:
    registry, db = CollectorRegistry(), FakeDatabase()
    db.fail_next = [Outage("postgres: gone")]  # the first try rolls back: nothing counted
    batch = _batch(3)
    processor = _processor(nothing, [batch], db, registry)
    processor.poll_once()
    assert _value(registry, "outbox_consumer_messages_total", group="g",
                  event_type="OrderPlaced", outcome="handled") == 0  # fmt: skip
    processor.poll_once()  # the rewound batch again, committed this time
    assert _value(registry, "outbox_consumer_messages_total", group="g",
                  event_type="OrderPlaced", outcome="handled") == 3  # fmt: skip
    # Freshness from the record timestamp (999.5 s) to now (1000 s).
    assert _value(registry, "outbox_consumer_freshness_seconds_sum", group="g") == 1.5
    assert _value(registry, "outbox_consumer_batch_size_messages_count", group="g") == 2
    assert _value(registry, "outbox_consumer_process_seconds_count", group="g") == 6
    assert _value(registry, "outbox_consumer_last_commit_timestamp_seconds", group="g") == 1000


def test_stats_become_counters_and_health_gauges_follow_the_turn() -> None:
    registry = CollectorRegistry()
    calls = [0]

    @handler("g")
    def flaky(event: OrderPlaced, ctx: HandlerContext) -> None:
        calls[0] += 1
        if calls[0] <= 2:  # in the optimistic pass, then the first isolated attempt
            raise RuntimeError("twice")

    processor = _processor(flaky, [_batch(1)], FakeDatabase(), registry)
    processor.poll_once()
    processor.turned()
    assert _value(registry, "outbox_consumer_retries_total", group="g") == 1
    assert _value(registry, "outbox_consumer_isolations_total", group="g") == 1
    assert _value(registry, "outbox_consumer_ready", group="g") == 1
    assert _value(registry, "outbox_consumer_last_turn_timestamp_seconds", group="g") == 1000
    processor.turned()  # the same stats again: not counted twice
    assert _value(registry, "outbox_consumer_retries_total", group="g") == 1


def test_a_partition_that_moved_away_reports_no_lag_here() -> None:
    registry = CollectorRegistry()
    telemetry = PrometheusTelemetry(registry)
    telemetry.turned(Turn("g", True, {0: 5, 1: 7}, {}))
    telemetry.turned(Turn("g", True, {1: 2}, {}))
    assert _value(registry, "outbox_consumer_lag_messages", group="g", partition="0") == 0
    assert _value(registry, "outbox_consumer_lag_messages", group="g", partition="1") == 2


class _Positions:
    def highwater(self, tp: TopicPartition) -> int | None:
        return {0: 100, 1: 50, 2: None}[tp.partition]

    def position(self, tp: TopicPartition, timeout_ms: int) -> int:
        return 40


def test_lag_is_high_water_minus_the_next_offset_to_handle() -> None:
    progress = Progress()
    progress.applied([factories.kafka_message(factories.placed_record(), offset=89)])
    owned = {TopicPartition("t", p) for p in (0, 1, 2)}
    # Partition 0: handled up to 89 -> 10 behind; 1: nothing handled, the fetch position
    # stands in; 2: never fetched, unknown.
    assert progress.lag(cast(Any, _Positions()), owned) == {0: 10, 1: 10, 2: None}


class _Sample:
    def __init__(self, name: str, value: float, **labels: str) -> None:
        self.name, self.value, self.labels = name, value, labels


def test_live_when_every_process_turned_recently() -> None:
    samples = [
        _Sample(health.LAST_TURN, 95, group="a", pid="1"),
        _Sample(health.LAST_TURN, 40, group="b", pid="2"),
    ]
    assert health.live(samples[:1], now=100, stale_after=30).ok
    verdict = health.live(samples, now=100, stale_after=30)
    assert not verdict.ok
    assert verdict.detail["stale_seconds"] == {"b/2": 60}
    assert not health.live([], now=100, stale_after=30).ok  # nothing has started yet


def test_ready_when_every_group_has_a_ready_process() -> None:
    samples = [
        _Sample(health.READY, 0, group="a", pid="1"),  # holds no partitions (3 of 6 instances)
        _Sample(health.READY, 1, group="a", pid="2"),
        _Sample(health.READY, 0, group="b", pid="3"),
    ]
    verdict = health.ready(samples, ["a", "b"])
    assert not verdict.ok
    assert verdict.detail["not_ready"] == ["b"]
    assert health.ready(samples[:2], ["a"]).ok


def test_the_clean_batch_decision_is_a_gauge_with_its_reason() -> None:
    registry = CollectorRegistry()
    telemetry = PrometheusTelemetry(registry)
    telemetry.clean_batches("g", False, "user middleware must see every message: timed")
    why = "user middleware must see every message: timed"
    assert (
        registry.get_sample_value("outbox_consumer_clean_batches", {"group": "g", "why": why}) == 0
    )
