"""``make bench`` / ``python -m bench [--quick]``: every figure in one run, against the native
stack brought up by ``make up`` (API and consumers running). Results go to bench/results/."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.progress import Progress

from bench import consumer_rates, limits, pipeline, relay
from bench.report import machine
from bench.scratch import scratch_producer_db
from consumers.settings import ConsumerSettings
from contract import AvroCodec, SchemaRepository
from producer_app.bootstrap import bootstrap
from producer_app.entrypoints.seed import seed
from producer_app.settings import ProducerSettings
from stack import connect
from stack.health import StackError, http_json
from stack.parts import groups_probe
from stack.settings import StackSettings

CONNECTOR = "orders-outbox"


@contextmanager
def connector_paused(url: str) -> Iterator[None]:
    """No change is decoded while paused (the slot is idle); it resumes where it stopped."""
    http_json(f"{url}/connectors/{CONNECTOR}/pause", method="PUT")
    _wait_state(url, "PAUSED")
    try:
        yield
    finally:
        http_json(f"{url}/connectors/{CONNECTOR}/resume", method="PUT")
        _wait_state(url, "RUNNING")


def _wait_state(url: str, state: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st = connect.status(url, CONNECTOR)
        if st is not None and st.state == state and all(t[1] == state for t in st.tasks):
            return
        time.sleep(0.3)
    raise StackError(f"connector {CONNECTOR} not {state} after {timeout:.0f}s")


def _target(target: str, measured: str, holds: bool) -> dict[str, Any]:
    return {"target": target, "measured": measured, "holds": holds}


def run(quick: bool, out: Path, say: Callable[[str], None]) -> dict[str, Any]:
    stack, app = StackSettings(), ProducerSettings()
    consumer = ConsumerSettings(stats_interval_seconds=3600)
    probe = groups_probe(
        stack.kafka_bootstrap_servers, lambda: ["inventory", "notifications", "sales-projection"]
    )
    deadline = time.monotonic() + 30  # a group may still be settling after make up
    while (groups := probe()) is not None and time.monotonic() < deadline:
        time.sleep(0.5)
    if groups is not None:
        raise StackError(f"the consumers must run (make up): {groups}")
    producer = bootstrap(app)
    secs = 2.0 if quick else 8.0
    result: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "quick": quick,
        "machine": machine(),
    }
    with Progress() as progress:
        task = progress.add_task("benchmark", total=6)

        def step(name: str) -> None:
            progress.update(task, description=name)
            say(name)

        step("limits (connector paused: no decoding)")
        with connector_paused(stack.connect_url), scratch_producer_db(stack, app) as scratch:
            encode, decode, size = limits.avro_codec(2_000 if quick else 20_000)
            produce, consume = limits.kafka_raw(
                stack.kafka_bootstrap_servers, messages=2_000 if quick else 50_000, size=size
            )
            result["limits"] = {
                "bare_tx_1": limits.bare_transactions(scratch, seconds=secs, connections=1),
                "bare_tx_4": limits.bare_transactions(scratch, seconds=secs, connections=4),
                "produce": produce,
                "consume": consume,
                "encode": encode,
                "decode": decode,
                "message_bytes": size,
            }
            step("writer without CDC")
            n = 100 if quick else 1_000
            without = seed(
                producer, orders=n, cancel_ratio=0, workers=4, show_progress=False
            ).orders_per_second
        progress.advance(task)
        step("writer with CDC")
        with_cdc = seed(
            producer, orders=n, cancel_ratio=0, workers=4, show_progress=False
        ).orders_per_second
        result["writer"] = {
            "without_cdc_per_s": without,
            "with_cdc_per_s": with_cdc,
            "impact": with_cdc / without,
        }
        progress.advance(task)

        step("pipeline: offered load stepped up")
        steps = []
        for rate in [20, 40] if quick else [50, 100, 200, 400, 800]:
            s = pipeline.run_step(producer, stack, rate=rate, seconds=secs)
            steps.append(s)
            if s.committed_per_s < 0.9 * rate:
                break  # saturated: the writer cannot take more
        result["steps"] = [s.summary() for s in steps]
        saturation = max(s.end_to_end_per_s for s in steps)
        progress.advance(task)

        step("latency at fixed rates")
        fixed = (
            {"20/s": 20.0}
            if quick
            else {"100/s": 100.0, "1000/s": 1000.0, "half saturation": float(round(saturation / 2))}
        )
        result["latency"] = {}
        for name, fixed_rate in fixed.items():
            s = pipeline.run_step(producer, stack, rate=fixed_rate, seconds=secs * 1.5)
            result["latency"][name] = {
                **s.summary(),
                "raw_commit_to_kafka_ms": s.commit_to_kafka_ms,
                "raw_commit_to_handled_ms": s.commit_to_handled_ms,
            }
        progress.advance(task)

        step("consumers vs raw poll + decode")
        result["consumers"] = consumer_rates.measure(
            stack, consumer, limit=1_000 if quick else None
        )
        progress.advance(task)

        step("polling relay baseline")
        relay_rate = 20.0 if quick else 100.0
        payload = AvroCodec(SchemaRepository.load()).encode(
            limits.sample_record(), SchemaRepository.load().get("OrderPlaced")
        )
        with scratch_producer_db(stack, app) as scratch:
            dsn = scratch.conninfo()
            r = relay.measure(
                dsn,
                stack.kafka_bootstrap_servers,
                rate=relay_rate,
                seconds=secs,
                idle_seconds=2 if quick else 5,
                payload=payload,
            )
        deb = result["latency"].get(f"{relay_rate:g}/s") or result["latency"]["20/s"]
        result["relay"] = {
            "rate": relay_rate,
            "published": r["published"],
            "written": r["written"],
            "p99_ms": pipeline.percentiles(r["latencies_ms"]).get("p99"),
            "idle_queries_per_s": r["idle_queries_per_s"],
            "debezium_p99_ms": deb["commit_to_kafka_ms"].get("p99"),
            # Debezium sends one heartbeat action query per heartbeat.interval.ms (10 s).
            "debezium_idle_queries_per_s": 0.1,
            "raw_latencies_ms": r["latencies_ms"],
        }
        progress.advance(task)
    producer.close()
    result["targets"] = targets(result, saturation)
    return result


def targets(r: dict[str, Any], saturation: float) -> list[dict[str, Any]]:
    bare = r["limits"]["bare_tx_4"]
    l1000 = r["latency"].get("1000/s", {}).get("commit_to_handled_ms", {}).get("p99")
    ratios = [h["ratio_to_poll_decode"] for h in r["consumers"]["handlers"].values()]
    relay = r["relay"]
    return [
        _target("end to end ≥ 5,000 events/s", f"{saturation:,.0f}/s", saturation >= 5000),
        _target(
            "end to end ≥ 0.5 x bare tx/s (4 connections)",
            f"{saturation / bare:.2f} x {bare:,.0f}",
            saturation >= 0.5 * bare,
        ),
        _target(
            "p99 commit→handled ≤ 250 ms at 1,000/s",
            "not reached"
            if l1000 is None
            else f"{l1000:,.0f} ms (achieved {r['latency']['1000/s']['committed_per_s']:,.0f}/s)",
            l1000 is not None and l1000 <= 250 and r["latency"]["1000/s"]["committed_per_s"] >= 900,
        ),
        _target(
            "consumer ≥ 0.6 x raw poll + decode",
            f"{min(ratios):.2f}-{max(ratios):.2f}",
            min(ratios) >= 0.6,
        ),
        _target(
            "writer impact ≥ 0.9", f"{r['writer']['impact']:.2f}", r["writer"]["impact"] >= 0.9
        ),
        _target(
            "Debezium p99 ≤ 0.5 x relay p99, zero idle queries",
            f"{relay['debezium_p99_ms'] or 0:,.0f} vs {relay['p99_ms'] or 0:,.0f} ms; "
            f"{relay['debezium_idle_queries_per_s']} vs {relay['idle_queries_per_s']:.1f} q/s",
            (relay["debezium_p99_ms"] or 1e9) <= 0.5 * (relay["p99_ms"] or 0)
            and relay["debezium_idle_queries_per_s"] == 0,
        ),
    ]
