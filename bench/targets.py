"""The issue's targets, checked against one run's figures (reported, never asserted)."""

from __future__ import annotations

from typing import Any


def _target(target: str, measured: str, holds: bool) -> dict[str, Any]:
    return {"target": target, "measured": measured, "holds": holds}


def targets(r: dict[str, Any], saturation: float) -> list[dict[str, Any]]:
    bare = r["limits"]["bare_tx_4"]
    at_1000 = r["latency"].get("1000/s", {})
    l1000 = at_1000.get("commit_to_handled_ms", {}).get("p99")
    ratios = [h["ratio_to_poll_decode"] for h in r["consumers"]["handlers"].values()]
    relay = r["relay"]
    dbz_idle = relay["debezium_idle_statements_per_s"]
    cap = r["capacity"]
    half = cap["latency"].get("50%", {}).get("commit_to_handled_ms", {}).get("p99")
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
            else f"{l1000:,.0f} ms (achieved {at_1000['committed_per_s']:,.0f}/s)",
            l1000 is not None and l1000 <= 250 and at_1000["committed_per_s"] >= 900,
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
            f"{dbz_idle:.2f} vs {relay['idle_statements_per_s']:.1f} statements/s idle",
            (relay["debezium_p99_ms"] or 1e9) <= 0.5 * (relay["p99_ms"] or 0) and dbz_idle == 0,
        ),
    ]
