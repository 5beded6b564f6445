"""The benchmark's eight phases, in the order ``bench.run`` runs them. Each is a function of
the run's shared setup (``Bench``) that writes its figures into the result; why the order
matters is in ``bench.run``."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import (
    backlog,
    capacity,
    consumer_rates,
    limits,
    pipeline,
    queries,
    relay,
    scale_out,
    writer_cpu,
)
from bench.connector import CONNECTOR, connector_stopped, heartbeat_seconds
from bench.scratch import scratch_producer_db
from consumers.settings import ConsumerSettings
from contract.groups import CONSUMER_GROUPS
from contract.kafka_reads import end_offsets
from producer_app.bootstrap import Producer
from producer_app.settings import ProducerSettings
from stack.parts import Part
from stack.pause import paused
from stack.settings import StackSettings

GROUPS = sorted(CONSUMER_GROUPS)
ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Bench:
    """What every phase shares: the settings, the consumers' part, each part's pid (for its
    CPU), the producer, and the run's sizes (``quick``: seconds, not minutes)."""

    quick: bool
    stack: StackSettings
    app: ProducerSettings
    consumer: ConsumerSettings
    consumers: Part
    parts: dict[str, Callable[[], int | None]]
    producer: Producer
    payload: bytes
    saturation: float = 0.0

    @property
    def secs(self) -> float:
        return 2.0 if self.quick else 8.0

    @property
    def relay_rate(self) -> float:
        """Orders/s at which Debezium and the polling relay are compared side by side."""
        return 20.0 if self.quick else 100.0

    def step_at(self, rate: float, seconds: float) -> pipeline.Step:
        return pipeline.run_step(
            self.producer, self.stack, rate=rate, seconds=seconds, groups=GROUPS, parts=self.parts
        )


def machine_limits(b: Bench, result: dict[str, Any]) -> None:
    """What this machine can do without the pipeline: bare transactions, raw Kafka, Avro."""
    quick, secs = b.quick, b.secs
    with connector_stopped(b.stack.connect_rest()), scratch_producer_db(b.stack, b.app) as db:
        encode, decode, size = limits.avro_codec(2_000 if quick else 20_000)
        service = writer_cpu.measure(db, 200 if quick else 2_000)
        produce, consume = limits.kafka_raw(
            b.stack.kafka_as("tools"), messages=2_000 if quick else 50_000, size=size
        )
        result["limits"] = {
            "bare_tx_1": limits.bare_transactions(db, seconds=secs, connections=1),
            "bare_tx_4": limits.bare_transactions(db, seconds=secs, connections=4),
            "produce": produce,
            "consume": consume,
            "encode": encode,
            "decode": decode,
            "message_bytes": size,
            "writer_cpu": service,
        }


def writer(b: Bench, result: dict[str, Any]) -> None:
    """With the consumers stopped: order transactions/s through the service layer without
    and with CDC; how fast Debezium streams the orders written while it was stopped; and
    commit→Kafka at the polling relay's rate, under the same load the relay is measured."""
    kafka = b.stack.kafka_as("tools")
    # Alternated (without, with, without, with), so a slow spell of this shared machine does
    # not land on one side only; each figure is orders over the seconds of its rounds.
    rounds, part = 2, (100 if b.quick else 1_000) // 2
    seconds_without = seconds_with = 0.0
    drains = []
    with paused(b.consumers) as consumers_stopped:
        for _ in range(rounds):
            with connector_stopped(b.stack.connect_rest()):
                since = end_offsets(kafka, pipeline.ORDER_TOPIC)
                seconds_without += pipeline.offer(b.producer, orders=part, workers=4).seconds
            drains.append(backlog.drain_rate(kafka, pipeline.ORDER_TOPIC, since, part))
            seconds_with += pipeline.offer(b.producer, orders=part, workers=4).seconds
        alone = pipeline.commit_to_kafka(b.producer, b.stack, rate=b.relay_rate, seconds=b.secs)
    without, with_cdc = rounds * part / seconds_without, rounds * part / seconds_with
    result["writer"] = {
        "without_cdc_per_s": without,
        "with_cdc_per_s": with_cdc,
        "impact": with_cdc / without,
        "debezium_drain_per_s": statistics.fmean(drains),
        "consumers_stopped": consumers_stopped,
        "debezium_alone_commit_to_kafka_ms": alone,
    }


def load_steps(b: Bench, result: dict[str, Any]) -> None:
    """Offered load stepped up until the writer cannot take more (committed < 0.9 x offered)."""
    steps = []
    for rate in [20, 40] if b.quick else [50, 100, 200, 400, 800, 1600]:
        s = b.step_at(rate, b.secs)
        steps.append(s)
        if s.committed_per_s < 0.9 * rate:
            break
    result["steps"] = [s.summary() for s in steps]
    b.saturation = max(s.end_to_end_per_s for s in steps)


def latency(b: Bench, result: dict[str, Any]) -> None:
    """Commit→Kafka and commit→handled at fixed rates (half of the saturation among them)."""
    fixed = (
        {"20/s": 20.0}
        if b.quick
        else {"100/s": 100.0, "1000/s": 1000.0, "half saturation": float(round(b.saturation / 2))}
    )
    result["latency"] = {}
    for name, rate in fixed.items():
        s = b.step_at(rate, b.secs * 1.5)
        result["latency"][name] = {
            **s.summary(),
            "raw_commit_to_kafka_ms": s.commit_to_kafka_ms,
            "raw_commit_to_handled_ms": s.commit_to_handled_ms,
        }


def pipeline_capacity(b: Bench, result: dict[str, Any]) -> None:
    @contextmanager
    def nothing_behind() -> Iterator[None]:
        with paused(b.consumers), connector_stopped(b.stack.connect_rest()):
            yield

    result["capacity"] = capacity.measure(
        b.stack, b.app, GROUPS, b.parts, quick=b.quick, stopped=nothing_behind
    )


def consumers(b: Bench, result: dict[str, Any]) -> None:
    limit = 1_000 if b.quick else 100_000
    result["consumers"] = consumer_rates.measure(b.stack, b.consumer, limit=limit)


def scaled_out(b: Bench, result: dict[str, Any]) -> None:
    result["scale_out"] = scale_out.measure(b.stack, b.consumer, quick=b.quick)


def polling_relay(b: Bench, result: dict[str, Any]) -> None:
    """The polling relay (SKIP LOCKED) against Debezium, like for like, and the statements
    each sends while idle."""
    # Debezium is idle but for its heartbeat: a window shorter than the heartbeat interval
    # would count zero and flatter it, so even the quick mode waits past one beat.
    beat = heartbeat_seconds(ROOT / "connectors" / f"{CONNECTOR}.json")
    idle_s = beat * 1.2 if b.quick else beat * 3
    admin, rate = b.stack.admin_dsn(), b.relay_rate
    with scratch_producer_db(b.stack, b.app) as scratch:
        dsn = scratch.conninfo()
        r = relay.measure(
            dsn,
            b.stack.kafka_as("tools"),
            rate=rate,
            seconds=b.secs,
            idle_seconds=idle_s / 3,  # polling is steady: a third of the window shows it
            payload=b.payload,
            idle_rate=lambda s: queries.per_second_while(
                admin, b.app.app_db_user, scratch.postgres_db, s
            ),
        )
        count = 100 if b.quick else 1_000
        drain = relay.drain(dsn, b.stack.kafka_as("tools"), count=count, payload=b.payload)
    in_pipeline = result["latency"].get(f"{rate:g}/s", {})
    alone = result["writer"].pop("debezium_alone_commit_to_kafka_ms")
    result["relay"] = {
        "rate": rate,
        "published": r["published"],
        "written": r["written"],
        "p99_ms": pipeline.percentiles(r["latencies_ms"]).get("p99"),
        "idle_statements_per_s": r["idle_statements_per_s"],
        "drain_per_s": drain,
        # Like for like: the relay runs with nothing else loaded, so does this Debezium figure.
        "debezium_p99_ms": pipeline.percentiles(alone).get("p99"),
        "debezium_in_pipeline_p99_ms": in_pipeline.get("commit_to_kafka_ms", {}).get("p99"),
        "debezium_idle_statements_per_s": queries.per_second_while(
            admin, b.stack.debezium_db_user, b.stack.postgres_db, idle_s
        ),
        "debezium_drain_per_s": result["writer"]["debezium_drain_per_s"],
        "raw_latencies_ms": r["latencies_ms"],
        "debezium_raw_latencies_ms": alone,
    }
