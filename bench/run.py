"""``make bench`` / ``python -m bench [--quick]``: every figure in one run, against the native
stack brought up by ``make up`` (API and consumers running). Results go to bench/results/.

Order of the run, and why:
1. limits, in a scratch database with the connector stopped (nothing decodes meanwhile);
2. the writer with and without CDC, with the consumers stopped so that Debezium is the only
   difference; the orders written while the connector was stopped are Debezium's backlog drain;
3. load steps, then fixed rates, each after the backlog of the one before is handled;
4. the pipeline's capacity with pgbench as the writer (``bench.capacity``);
5. consumers against a raw poll + decode loop; 6. one group scaled out to 1, 2 and 3
   instances (``bench.scale_out``); 7. the polling relay; 8. idle statements.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.progress import Progress

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
from bench.report import machine
from bench.scratch import scratch_producer_db
from bench.targets import targets
from consumers.handlers import REGISTRY
from consumers.settings import ConsumerSettings
from contract import AvroCodec, SchemaRepository
from producer_app.bootstrap import Producer, bootstrap
from producer_app.settings import ProducerSettings
from stack import connect
from stack.health import StackError
from stack.layout import Layout
from stack.parts import Part, app_parts, groups_probe, stack_parts
from stack.rest import ConnectRest
from stack.settings import StackSettings

CONNECTOR = "orders-outbox"
GROUPS = sorted(REGISTRY)
ROOT = Path(__file__).resolve().parent.parent


@contextmanager
def connector_stopped(rest: ConnectRest) -> Iterator[None]:
    """The connector's task shut down (Connect's stop, not pause: a paused Debezium task keeps
    decoding the WAL into its queue), so the slot is inactive and nothing is decoded. On
    resume it streams from the slot's confirmed position: nothing is lost."""
    rest.call(f"/connectors/{CONNECTOR}/stop", method="PUT")
    _wait_state(rest, "STOPPED")
    try:
        yield
    finally:
        rest.call(f"/connectors/{CONNECTOR}/resume", method="PUT")
        _wait_state(rest, "RUNNING")


@contextmanager
def stopped(part: Part) -> Iterator[bool]:
    """The part stopped for the block and started again (healthy) afterwards; yields whether
    it was running (consumers run elsewhere, as in the test suite, are left alone)."""
    running = part.pid() is not None
    part.halt()
    try:
        yield running
    finally:
        if running:
            part.up()


def _wait_state(rest: ConnectRest, state: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st = connect.status(rest, CONNECTOR)
        if st is not None and st.state == state and all(t[1] == state for t in st.tasks):
            return
        time.sleep(0.3)
    raise StackError(f"connector {CONNECTOR} not {state} after {timeout:.0f}s")


def heartbeat_seconds(connector_file: Path) -> float:
    config = json.loads(connector_file.read_text())["config"]
    return int(config["heartbeat.interval.ms"]) / 1000


def _require_consumers(stack: StackSettings) -> None:
    probe = groups_probe(stack.kafka_as("tools"), lambda: GROUPS)
    deadline = time.monotonic() + 30  # a group may still be settling after make up
    while (groups := probe()) is not None and time.monotonic() < deadline:
        time.sleep(0.5)
    if groups is not None:
        raise StackError(f"the consumers must run (make up): {groups}")


def _writer(
    producer: Producer,
    stack: StackSettings,
    consumers: Part,
    n: int,
    relay_rate: float,
    seconds: float,
) -> dict[str, Any]:
    """With the consumers stopped: order transactions/s through the service layer without
    and with CDC; how fast Debezium streams the n orders written while it was stopped; and
    commit→Kafka at the polling relay's rate, under the same load the relay is measured."""
    kafka = stack.kafka_as("tools")
    # Alternated (without, with, without, with), so a slow spell of this shared machine does
    # not land on one side only; each figure is orders over the seconds of its rounds.
    rounds, part = 2, n // 2
    seconds_without = seconds_with = 0.0
    drains = []
    with stopped(consumers) as consumers_stopped:
        for _ in range(rounds):
            with connector_stopped(stack.connect_rest()):
                since = backlog.end_offsets(kafka, pipeline.ORDER_TOPIC)
                seconds_without += pipeline.offer(producer, orders=part, workers=4).seconds
            drains.append(backlog.drain_rate(kafka, pipeline.ORDER_TOPIC, since, part))
            seconds_with += pipeline.offer(producer, orders=part, workers=4).seconds
        alone = pipeline.commit_to_kafka(producer, stack, rate=relay_rate, seconds=seconds)
    without, with_cdc = rounds * part / seconds_without, rounds * part / seconds_with
    return {
        "without_cdc_per_s": without,
        "with_cdc_per_s": with_cdc,
        "impact": with_cdc / without,
        "debezium_drain_per_s": statistics.fmean(drains),
        "consumers_stopped": consumers_stopped,
        "debezium_alone_commit_to_kafka_ms": alone,
    }


def _limits(
    stack: StackSettings, app: ProducerSettings, quick: bool, secs: float
) -> dict[str, Any]:
    """What this machine can do without the pipeline: bare transactions, raw Kafka, Avro."""
    with connector_stopped(stack.connect_rest()), scratch_producer_db(stack, app) as scratch:
        encode, decode, size = limits.avro_codec(2_000 if quick else 20_000)
        service = writer_cpu.measure(scratch, 200 if quick else 2_000)
        produce, consume = limits.kafka_raw(
            stack.kafka_as("tools"), messages=2_000 if quick else 50_000, size=size
        )
        return {
            "bare_tx_1": limits.bare_transactions(scratch, seconds=secs, connections=1),
            "bare_tx_4": limits.bare_transactions(scratch, seconds=secs, connections=4),
            "produce": produce,
            "consume": consume,
            "encode": encode,
            "decode": decode,
            "message_bytes": size,
            "writer_cpu": service,
        }


def _load_steps(
    step_at: Callable[[float, float], pipeline.Step], rates: list[int], secs: float
) -> list[pipeline.Step]:
    """Offered load stepped up until the writer cannot take more (committed < 0.9 x offered)."""
    steps = []
    for rate in rates:
        s = step_at(rate, secs)
        steps.append(s)
        if s.committed_per_s < 0.9 * rate:
            break
    return steps


def _latency(s: pipeline.Step) -> dict[str, Any]:
    return {
        **s.summary(),
        "raw_commit_to_kafka_ms": s.commit_to_kafka_ms,
        "raw_commit_to_handled_ms": s.commit_to_handled_ms,
    }


def run(quick: bool, out: Path, say: Callable[[str], None]) -> dict[str, Any]:
    """The eight phases in the order they run (their order matters: the limits first, on an
    idle machine; the relay last, since it stops the connector). Each phase's work is its own
    function; what stays here, past 60 lines, is the order, the shared setup and the progress.
    """
    stack, app = StackSettings(), ProducerSettings()
    consumer = ConsumerSettings(stats_interval_seconds=3600)
    layout = Layout(ROOT)
    every = stack_parts(layout, stack) + app_parts(layout, stack)
    parts = {p.name: p.pid for p in every}
    _require_consumers(stack)
    producer = bootstrap(app)
    secs = 2.0 if quick else 8.0
    relay_rate = 20.0 if quick else 100.0  # Debezium and the polling relay side by side
    payload = AvroCodec(SchemaRepository.load()).encode(
        limits.sample_record(), SchemaRepository.load().get("OrderPlaced")
    )
    result: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "quick": quick,
        "machine": machine(),
    }

    def step_at(rate: float, seconds: float) -> pipeline.Step:
        return pipeline.run_step(
            producer, stack, rate=rate, seconds=seconds, groups=GROUPS, parts=parts
        )

    with Progress() as progress:
        task = progress.add_task("benchmark", total=8)
        # (advanced as each of the eight phases ends)

        def step(name: str) -> None:
            progress.update(task, description=name)
            progress.advance(task)
            say(name)

        progress.update(task, description="limits (connector stopped: no decoding)")
        result["limits"] = _limits(stack, app, quick, secs)
        step("writer with and without CDC (consumers stopped)")
        result["writer"] = _writer(
            producer,
            stack,
            next(p for p in every if p.name == "consumers"),
            100 if quick else 1_000,
            relay_rate,
            secs,
        )

        step("pipeline: offered load stepped up")
        steps = _load_steps(step_at, [20, 40] if quick else [50, 100, 200, 400, 800, 1600], secs)
        result["steps"] = [s.summary() for s in steps]
        saturation = max(s.end_to_end_per_s for s in steps)

        step("latency at fixed rates")
        fixed = (
            {"20/s": 20.0}
            if quick
            else {"100/s": 100.0, "1000/s": 1000.0, "half saturation": float(round(saturation / 2))}
        )
        result["latency"] = {
            name: _latency(step_at(rate, secs * 1.5)) for name, rate in fixed.items()
        }

        step("pipeline capacity, pgbench as the writer")
        consumers_part = next(p for p in every if p.name == "consumers")

        @contextmanager
        def nothing_behind() -> Iterator[None]:
            with stopped(consumers_part), connector_stopped(stack.connect_rest()):
                yield

        result["capacity"] = capacity.measure(
            stack, app, GROUPS, parts, quick=quick, stopped=nothing_behind
        )

        step("consumers vs raw poll + decode")
        result["consumers"] = consumer_rates.measure(
            stack, consumer, limit=1_000 if quick else 100_000
        )

        step("one group scaled out to 1, 2 and 3 instances")
        result["scale_out"] = scale_out.measure(stack, consumer, quick=quick)

        step("polling relay baseline, then idle statements")
        result["relay"] = _relay(stack, app, result, quick, payload, relay_rate)
        progress.advance(task)
    producer.close()
    result["writer_cpu"] = result["limits"].pop("writer_cpu")
    result["targets"] = targets(result, saturation)
    return result


def _relay(
    stack: StackSettings,
    app: ProducerSettings,
    result: dict[str, Any],
    quick: bool,
    payload: bytes,
    rate: float,
) -> dict[str, Any]:
    # Debezium is idle but for its heartbeat: a window shorter than the heartbeat interval
    # would count zero and flatter it, so even the quick mode waits past one beat.
    beat = heartbeat_seconds(ROOT / "connectors" / f"{CONNECTOR}.json")
    idle_s = beat * 1.2 if quick else beat * 3
    admin = stack.admin_dsn()
    with scratch_producer_db(stack, app) as scratch:
        dsn = scratch.conninfo()
        r = relay.measure(
            dsn,
            stack.kafka_as("tools"),
            rate=rate,
            seconds=2.0 if quick else 8.0,
            idle_seconds=idle_s / 3,  # polling is steady: a third of the window shows it
            payload=payload,
            idle_rate=lambda s: queries.per_second_while(
                admin, app.app_db_user, scratch.postgres_db, s
            ),
        )
        drain = relay.drain(
            dsn, stack.kafka_as("tools"), count=100 if quick else 1_000, payload=payload
        )
    in_pipeline = result["latency"].get(f"{rate:g}/s", {})
    alone = result["writer"].pop("debezium_alone_commit_to_kafka_ms")
    return {
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
            admin, stack.debezium_db_user, stack.postgres_db, idle_s
        ),
        "debezium_drain_per_s": result["writer"]["debezium_drain_per_s"],
        "raw_latencies_ms": r["latencies_ms"],
        "debezium_raw_latencies_ms": alone,
    }
