"""The HA column of ``make bench``: capacity and latency of each topology side by side.

The HA topology's run measures only what Kafka's topology changes (``bench.run.TOPOLOGY_PHASES``),
so the rows here are those: the load steps' best, pgbench flat out, and fixed-rate latencies.
Each column is one topology's newest run; its time says when, so two columns measured far apart
on a machine that changed meanwhile are seen to be so."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bench.report import fmt


# The figures compared across topologies: (row, how to read it from one run's results).
def _at(rate: str, key: str, q: str) -> Callable[[dict[str, Any]], float | None]:
    return lambda r: r["latency"].get(rate, {}).get(key, {}).get(q)


COMPARED: tuple[tuple[str, Callable[[dict[str, Any]], float | None]], ...] = (
    ("highest end-to-end events/s of the load steps", lambda r: _most(r["steps"])),
    (
        "pgbench flat out: committed orders/s",
        lambda r: r["capacity"]["saturation"]["committed_per_s"],
    ),
    (
        "pgbench flat out: events/s handled by all three groups",
        lambda r: r["capacity"]["saturation"]["handled_per_s"],
    ),
    (
        "pgbench flat out: commit→handled p99 ms",
        lambda r: r["capacity"]["saturation"]["commit_to_handled_ms"].get("p99"),
    ),
    *(
        (f"{rate}: commit→{to} {q} ms", _at(rate, f"commit_to_{key}_ms", q))
        for rate in ("20/s", "100/s", "1000/s")
        for to, key in (("Kafka", "kafka"), ("handled", "handled"))
        for q in ("p50", "p99")
    ),
)


def _most(steps: list[dict[str, Any]]) -> float | None:
    return max((s["end_to_end_per_s"] for s in steps), default=None)


def topologies(runs: dict[str, dict[str, Any]]) -> list[str]:
    """Capacity and latency of each topology measured, a column each, from each one's newest
    run (``runs``: topology name → results). A row neither measured is left out; a figure one
    run lacks (a quick run has 20/s only) is ``-``."""
    names = [n for n in ("single", "ha") if n in runs]
    rows = []
    for label, read in COMPARED:
        values = [_read(read, runs[n]) for n in names]
        if any(v is not None for v in values):
            rows.append(f"| {label} | " + " | ".join(fmt(v) for v in values) + " |")
    when = [f"{runs[n]['when']}{' (quick)' if runs[n]['quick'] else ''}" for n in names]
    return [
        "| capacity and latency by topology | " + " | ".join(names) + " |",
        "| --- |" + " ---: |" * len(names),
        *rows,
        "| measured at | " + " | ".join(when) + " |",
    ]


def _read(read: Callable[[dict[str, Any]], float | None], r: dict[str, Any]) -> float | None:
    try:
        return read(r)
    except (KeyError, TypeError):
        return None
