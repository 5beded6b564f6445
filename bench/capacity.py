"""The pipeline's own capacity, with ``pgbench`` as the writer (``bench.pgbench_load``).

1. **bare**: pgbench flat out with the connector stopped and the consumers stopped: what
   this machine commits of these transactions with nothing behind them (the floor's ceiling).
2. **saturation**: pgbench flat out with everything running, then until the three groups
   have handled every order: events/s committed → handled by all three, and CPU per part.
3. **latency** at 25, 50 and 75 % of that saturation and at 1,000/s when that is below it:
   commit → handled by all three groups, per order, from Postgres' commit timestamps.

The orders written while the connector was stopped are handled before step 2 starts, so each
step measures its own load.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from bench import cpu, pgbench_load, pipeline
from producer_app.settings import ProducerSettings
from stack.settings import StackSettings

PGBENCH = "pgbench (load generator)"


def _backends_settled(postgres: Callable[[], int | None], timeout: float = 15.0) -> None:
    """Wait until Postgres has reaped the backends of the clients just stopped: a backend's
    CPU since it started is added to the postmaster's children time when it is reaped, which
    inside the bare run's window would charge the consumers' and Debezium's whole lifetime
    to the bare transactions (seen: 3,072 µs per transaction at 2,142/s on two cores)."""
    deadline, last, steady_since = time.monotonic() + timeout, -1, time.monotonic()
    while time.monotonic() < deadline:
        leader = postgres()
        count = cpu.children_count(leader) if leader else 0
        if count != last:
            last, steady_since = count, time.monotonic()
        elif time.monotonic() - steady_since >= 1.0:
            return
        time.sleep(0.2)


def _saturation(
    stack: StackSettings,
    app: ProducerSettings,
    groups: list[str],
    parts: dict[str, Callable[[], int | None]],
    secs: float,
) -> dict[str, Any]:
    pipeline.wait_drained(stack.kafka_as("tools"), groups)
    before = cpu.snapshot(parts)
    written = pgbench_load.run(app, seconds=secs, stack=stack)
    committed, handled, complete = pipeline.handled_times(
        stack.admin_dsn(), written.order_ids, timeout=600
    )
    cores = cpu.cores_used(before, cpu.snapshot(parts))
    wall = max(handled.values(), default=0.0) - min(committed.values(), default=0.0)
    cores[PGBENCH] = round(written.pgbench_cpu_seconds / max(1e-6, wall), 3)
    events = len(handled)
    return {
        "orders": len(written.order_ids),
        "committed_per_s": written.tps,
        "handled_per_s": events / max(1e-6, wall),
        "complete": complete,
        "cores": cores,
        "cpu_us_per_event": {
            name: round(c * wall / max(1, events) * 1e6, 1) for name, c in cores.items()
        },
        "commit_to_handled_ms": pipeline.percentiles(pipeline.ms_since_commit(committed, handled)),
    }


def _latency_at(
    stack: StackSettings, app: ProducerSettings, groups: list[str], rate: float, secs: float
) -> dict[str, Any]:
    pipeline.wait_drained(stack.kafka_as("tools"), groups)
    written = pgbench_load.run(app, seconds=secs, rate=rate, stack=stack)
    committed, handled, complete = pipeline.handled_times(
        stack.admin_dsn(), written.order_ids, timeout=300
    )
    latencies = pipeline.ms_since_commit(committed, handled)
    return {
        "offered_per_s": rate,
        "committed_per_s": written.tps,
        "complete": complete,
        "commit_to_handled_ms": pipeline.percentiles(latencies),
        "raw_commit_to_handled_ms": latencies,
    }


def measure(
    stack: StackSettings,
    app: ProducerSettings,
    groups: list[str],
    parts: dict[str, Callable[[], int | None]],
    *,
    quick: bool,
    stopped: Callable[[], Any],
) -> dict[str, Any]:
    """``stopped()``: a context manager that stops the connector and the consumers."""
    secs = 2.0 if quick else 10.0
    # Enough planned orders for every run at this machine's pace (a few thousand tx/s).
    pgbench_load.plan(stack, app, orders=int(secs * (6_000 * 2 + 4_000)))
    try:
        postgres = parts["postgres"]

        def postgres_cpu() -> float:
            _backends_settled(postgres)  # after the run: pgbench's backends reaped, counted
            leader = postgres()
            return cpu.tree_cpu_seconds(leader) if leader else 0.0

        with stopped():
            bare = pgbench_load.run(app, seconds=secs, stack=stack, cpu_seconds=postgres_cpu)
        saturation = _saturation(stack, app, groups, parts, secs)
        rate = saturation["handled_per_s"]
        rates = {f"{p}%": round(rate * p / 100) for p in (25, 50, 75)}
        if rate > 1000:
            rates["1000/s"] = 1000
        latency = {
            name: _latency_at(stack, app, groups, r, secs) for name, r in rates.items() if r >= 1
        }
    finally:
        pgbench_load.drop(stack, app)
    return {
        "bare_tx_per_s": bare.tps,
        # The floor of a committed order, in CPU: Postgres and pgbench while pgbench ran.
        "bare_cpu_us_per_tx": round(
            (bare.cpu_seconds + bare.pgbench_cpu_seconds) / max(1, bare.transactions) * 1e6, 1
        ),
        "saturation": saturation,
        "ratio_to_bare": saturation["handled_per_s"] / max(1e-6, bare.tps),
        "latency": latency,
    }
