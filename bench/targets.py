"""The issue's targets, checked against one run's figures (reported, never asserted)."""

from __future__ import annotations

from typing import Any

from contract.groups import CONSUMER_GROUPS

GROUPS = len(CONSUMER_GROUPS)  # every event is consumed and decoded once per group


def _target(target: str, measured: str, holds: bool) -> dict[str, Any]:
    return {"target": target, "measured": measured, "holds": holds}


def floors_us(r: dict[str, Any]) -> dict[str, float]:
    """CPU-µs per event of each floor measured in the run: a bare order transaction (Postgres
    and pgbench over the bare run), one produce, and per group one consume and one decode
    (single-threaded loops, so 1e6 / rate is their CPU per message)."""
    lim = r["limits"]
    return {
        "bare transaction": r["capacity"]["bare_cpu_us_per_tx"],
        "produce": 1e6 / lim["produce"],
        f"consume x {GROUPS}": GROUPS * 1e6 / lim["consume"],
        f"decode x {GROUPS}": GROUPS * 1e6 / lim["decode"],
    }


def cpu_per_event(r: dict[str, Any]) -> tuple[float, float]:
    """(CPU-µs per event across all parts at saturation, the sum of the floors)."""
    parts = r["capacity"]["saturation"]["cpu_us_per_event"]
    return sum(parts.values()), sum(floors_us(r).values())


def targets(r: dict[str, Any], saturation: float) -> list[dict[str, Any]]:
    """The pipeline's targets, then the service-layer writer's."""
    return _pipeline(r) + _writer(r, saturation)


def _pipeline(r: dict[str, Any]) -> list[dict[str, Any]]:
    ratios = [h["ratio_to_poll_decode"] for h in r["consumers"]["handlers"].values()]
    relay = r["relay"]
    dbz_idle, relay_idle = relay["debezium_idle_statements_per_s"], relay["idle_statements_per_s"]
    cap = r["capacity"]
    half = cap["latency"].get("50%", {}).get("commit_to_handled_ms", {}).get("p99")
    all_parts, floors = cpu_per_event(r)
    w = r["writer_cpu"]
    return [
        _target(
            "pipeline handled/s (pgbench writer) ≥ 0.5 x pgbench bare tx/s",
            f"{cap['saturation']['handled_per_s']:,.0f}/s = {cap['ratio_to_bare']:.2f} x "
            f"{cap['bare_tx_per_s']:,.0f}",
            cap["ratio_to_bare"] >= 0.5,
        ),
        _target(
            "p99 commit→handled ≤ 100 ms at 50 % of saturation (pgbench writer)",
            "-" if half is None else f"{half:,.0f} ms",
            half is not None and half <= 100,
        ),
        _target(
            "CPU-µs per event, all parts ≤ 2 x the sum of the floors",
            f"{all_parts:,.0f} = {all_parts / floors:.2f} x {floors:,.0f}",
            all_parts <= 2 * floors,
        ),
        _target(
            "consumer handled/s per group ≥ 0.6 x raw poll + decode",
            f"{min(ratios):.2f}-{max(ratios):.2f}",
            min(ratios) >= 0.6,
        ),
        _target(
            "service-layer CPU per order ≤ 2 x bare psycopg",
            f"{w['service_cpu_us']:,.0f} µs = {w['ratio']:.2f} x {w['bare_cpu_us']:,.0f}",
            w["ratio"] <= 2,
        ),
        _target(
            "Debezium p99 ≤ 0.5 x relay p99, idle statements ≤ 1/100 of the relay's",
            f"{relay['debezium_p99_ms'] or 0:,.0f} vs {relay['p99_ms'] or 0:,.0f} ms; "
            f"{dbz_idle:.2f} vs {relay_idle:.1f} statements/s idle",
            (relay["debezium_p99_ms"] or 1e9) <= 0.5 * (relay["p99_ms"] or 0)
            and dbz_idle <= relay_idle / 100,
        ),
        _target(
            "writer impact of CDC ≥ 0.9",
            f"{r['writer']['impact']:.2f}",
            r["writer"]["impact"] >= 0.9,
        ),
    ]


def _writer(r: dict[str, Any], saturation: float) -> list[dict[str, Any]]:
    bare = r["limits"]["bare_tx_4"]
    at_1000 = r["latency"].get("1000/s", {})
    l1000 = at_1000.get("commit_to_handled_ms", {}).get("p99")
    return [
        _target(
            "service-layer writer: end to end ≥ 0.5 x bare tx/s (4 connections)",
            f"{saturation:,.0f}/s = {saturation / bare:.2f} x {bare:,.0f}",
            saturation >= 0.5 * bare,
        ),
        _target(
            "service-layer writer: p99 commit→handled ≤ 250 ms at 1,000/s",
            "not reached"
            if l1000 is None
            else f"{l1000:,.0f} ms (achieved {at_1000['committed_per_s']:,.0f}/s)",
            l1000 is not None and l1000 <= 250 and at_1000["committed_per_s"] >= 900,
        ),
    ]
