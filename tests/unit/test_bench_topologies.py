"""``make bench``'s HA column (issue 28): which phases the HA topology runs, and how each
topology's newest run becomes a column of one table."""

from __future__ import annotations

from typing import Any

from bench import phases
from bench.run import PHASES, TOPOLOGY_PHASES
from bench.topologies import topologies


def _run(
    when: str, *, quick: bool, steps: list[float], rates: dict[str, tuple[float, float]]
) -> dict[str, Any]:
    return {
        "when": when,
        "quick": quick,
        "steps": [{"end_to_end_per_s": v} for v in steps],
        "latency": {
            name: {
                "commit_to_kafka_ms": {"p50": k / 2, "p99": k},
                "commit_to_handled_ms": {"p50": h / 2, "p99": h},
            }
            for name, (k, h) in rates.items()
        },
        "capacity": {
            "saturation": {
                "committed_per_s": 900.0,
                "handled_per_s": 2400.0,
                "commit_to_handled_ms": {"p99": 1500.0},
            }
        },
    }


def test_the_ha_topology_runs_the_phases_kafkas_topology_changes_in_their_order() -> None:
    assert [p for _, p in TOPOLOGY_PHASES] == [
        phases.load_steps,
        phases.latency,
        phases.pipeline_capacity,
    ]
    assert [n for n, _ in TOPOLOGY_PHASES] == [n for n, p in PHASES if (n, p) in TOPOLOGY_PHASES]


def test_each_topology_is_a_column_and_a_figure_one_run_lacks_is_a_dash() -> None:
    single = _run("2026-12-07T05:00:00+00:00", quick=False, steps=[400, 1200.4, 900],
                  rates={"100/s": (40, 120), "1000/s": (90, 400)})  # fmt: skip
    ha = _run("2026-12-07T05:30:00+00:00", quick=True, steps=[300], rates={"20/s": (60, 150)})
    lines = topologies({"ha": ha, "single": single})
    assert lines[0] == "| capacity and latency by topology | single | ha |"
    rows = {line.split(" | ")[0].lstrip("| "): line for line in lines[2:]}
    assert rows["highest end-to-end events/s of the load steps"].endswith("| 1,200 | 300 |")
    assert rows["100/s: commit→Kafka p99 ms"].endswith("| 40 | - |")
    assert rows["20/s: commit→handled p50 ms"].endswith("| - | 75 |")
    assert (
        "| measured at | 2026-12-07T05:00:00+00:00 | 2026-12-07T05:30:00+00:00 (quick) |" in lines
    )
    # No run measured 1000/s in the HA column, but single did: the row stays, with a dash.
    assert rows["1000/s: commit→handled p99 ms"].endswith("| 400 | - |")


def test_a_row_no_run_measured_is_left_out_and_one_topology_is_one_column() -> None:
    ha = _run("t", quick=True, steps=[300], rates={"20/s": (60, 150)})
    lines = topologies({"ha": ha})
    assert lines[0] == "| capacity and latency by topology | ha |"
    assert not [line for line in lines if line.startswith("| 100/s")]
    assert all(line.count("|") == 3 for line in lines)
