"""The benchmark's arithmetic without a stack: CPU attribution from /proc, percentiles, and
the target table (which must say "no" whenever a figure misses)."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

from bench import cpu
from bench.pipeline import percentiles
from bench.targets import cpu_per_event, targets


def test_a_reaped_childs_cpu_counts_for_its_parent_tree() -> None:
    before = cpu.tree_cpu_seconds(os.getpid())
    burn = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.3: pass"
    subprocess.run([sys.executable, "-c", burn], check=True)
    assert cpu.tree_cpu_seconds(os.getpid()) - before >= 0.25


def test_cores_are_cpu_seconds_over_wall_seconds() -> None:
    before = cpu.Snapshot(10.0, {"postgres": 1.0, "kafka": 5.0})
    after = cpu.Snapshot(14.0, {"postgres": 3.0, "kafka": 5.4, "api": 0.0})
    assert cpu.cores_used(before, after) == {"postgres": 0.5, "kafka": 0.1, "api": 0.0}


def test_a_part_that_is_not_running_counts_zero() -> None:
    shot = cpu.snapshot({"connect": lambda: None})
    assert shot.seconds["connect"] == 0.0
    assert shot.seconds[cpu.LOAD_GENERATOR] > 0


def test_percentiles_pick_from_the_sorted_values() -> None:
    p = percentiles([float(v) for v in range(100, 0, -1)])
    assert (p["p50"], p["p95"], p["p99"], p["max"]) == (51.0, 96.0, 100.0, 100.0)
    assert percentiles([]) == {}


def _result(**over: Any) -> dict[str, Any]:
    r: dict[str, Any] = {
        "limits": {
            "bare_tx_4": 1000.0,
            "produce": 20_000.0,
            "consume": 50_000.0,
            "decode": 25_000.0,
        },
        "writer_cpu": {"bare_cpu_us": 500.0, "service_cpu_us": 900.0, "ratio": 1.8},
        "latency": {"1000/s": {"committed_per_s": 990, "commit_to_handled_ms": {"p99": 200.0}}},
        "consumers": {"handlers": {"a": {"ratio_to_poll_decode": 0.7}}},
        "writer": {"impact": 0.95},
        "relay": {
            "debezium_p99_ms": 40.0,
            "p99_ms": 100.0,
            "debezium_idle_statements_per_s": 0.0,
            "idle_statements_per_s": 30.0,
        },
        "capacity": {
            "bare_tx_per_s": 1000.0,
            "bare_cpu_us_per_tx": 1000.0,
            # floors: 1000 + 50 + 3 x 20 + 3 x 40 = 1230 µs; all parts 2400 µs
            "saturation": {"handled_per_s": 600.0, "cpu_us_per_event": {"a": 2000.0, "b": 400.0}},
            "ratio_to_bare": 0.6,
            "latency": {"50%": {"commit_to_handled_ms": {"p99": 90.0}}},
        },
    }
    r.update(over)
    return r


def test_the_floors_add_one_transaction_one_produce_and_each_groups_consume_and_decode() -> None:
    assert cpu_per_event(_result()) == (2400.0, 1230.0)


def test_every_target_holds_only_when_its_figure_does() -> None:
    assert [t["holds"] for t in targets(_result(), saturation=600)] == [True] * 9
    missed = _result(
        latency={"1000/s": {"committed_per_s": 150, "commit_to_handled_ms": {"p99": 100.0}}},
        writer={"impact": 0.7},
        writer_cpu={"bare_cpu_us": 500.0, "service_cpu_us": 1100.0, "ratio": 2.2},
        capacity={
            "bare_tx_per_s": 1000.0,
            "bare_cpu_us_per_tx": 1000.0,
            "saturation": {"handled_per_s": 400.0, "cpu_us_per_event": {"a": 2470.0}},
            "ratio_to_bare": 0.4,
            "latency": {"50%": {"commit_to_handled_ms": {"p99": 101.0}}},
        },
    )
    missed["relay"]["debezium_idle_statements_per_s"] = 0.31  # > 30 / 100
    holds = [t["holds"] for t in targets(missed, saturation=400)]
    # pgbench ratio; p99 at half; CPU vs floors; consumer; writer CPU; relay; impact;
    # service writer vs bare; p99 at a rate never reached
    assert holds == [False, False, False, True, False, False, False, False, False]
