"""Writes the run's JSON, a Markdown table with the targets, and PNG plots."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import Any

from bench.plots import plots
from bench.targets import cpu_per_event, floors_us


def machine() -> dict[str, Any]:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    mem = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal")
    )
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "memory_gib": round(mem / 1024**2, 1),
        "python": platform.python_version(),
        "kernel": platform.release(),
    }


def fmt(value: float | None, unit: str = "") -> str:
    return "-" if value is None else f"{value:,.0f}{unit}"


def markdown(r: dict[str, Any]) -> str:
    """The figures of docs/benchmark.md, one table or paragraph per phase of ``bench.run``
    (the HA topology's run: its phases only)."""
    if "limits" not in r:
        return _topology_run(r)
    sections = [
        _limits(r),
        [*_steps(r["steps"]), "", *_cpu_table(r["steps"])],
        _writer(r["writer"]),
        _latency(r["latency"]),
        [*_capacity(r["capacity"]), "", *_cpu_per_event(r)],
        [*_consumers(r["consumers"]), "", *_scale_out(r["scale_out"]), "", *_writer_cpu(r)],
        _relay(r["relay"]),
        _targets(r["targets"]),
    ]
    return "\n\n".join("\n".join(lines) for lines in sections) + "\n"


def _topology_run(r: dict[str, Any]) -> str:
    m = r["machine"]
    head = [
        f"Measured {r['when']} on the {r['topology']} topology, {m['cores']} cores "
        f"({m['cpu']}){', quick' if r['quick'] else ''}: the phases Kafka's topology changes."
    ]
    sections = [
        head,
        [*_steps(r["steps"]), "", *_cpu_table(r["steps"])],
        _latency(r["latency"]),
        _capacity(r["capacity"]),
    ]
    return "\n\n".join("\n".join(lines) for lines in sections) + "\n"


def _limits(r: dict[str, Any]) -> list[str]:
    lim, m = r["limits"], r["machine"]
    return [
        f"Measured {r['when']} on {m['cores']} cores ({m['cpu']}), "
        f"{m['memory_gib']} GiB{' (quick mode)' if r['quick'] else ''}.",
        "",
        "| limit of this machine | per second |",
        "| --- | ---: |",
        f"| bare order+outbox transactions, 1 connection | {fmt(lim['bare_tx_1'])} |",
        f"| bare order+outbox transactions, 4 connections | {fmt(lim['bare_tx_4'])} |",
        f"| kafka-python produce ({lim['message_bytes']} B) | {fmt(lim['produce'])} |",
        f"| kafka-python consume | {fmt(lim['consume'])} |",
        f"| fastavro encode / decode | {fmt(lim['encode'])} / {fmt(lim['decode'])} |",
    ]


def _steps(steps: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| offered orders/s | committed/s | end-to-end events/s | commit→Kafka p99 ms "
        "| commit→handled p50 / p99 ms |",
        "| ---: | ---: | ---: | ---: | ---: |",
    ]
    for s in steps:
        k, h = s["commit_to_kafka_ms"], s["commit_to_handled_ms"]
        lines.append(
            f"| {s['offered_per_s']:g} | {s['committed_per_s']:,.0f} | "
            f"{s['end_to_end_per_s']:,.0f} | {fmt(k.get('p99'))} | "
            f"{fmt(h.get('p50'))} / {fmt(h.get('p99'))} |"
        )
    return lines


def _writer(w: dict[str, Any]) -> list[str]:
    return [
        "Writer through the service layer (4 threads, consumers stopped, two alternating "
        f"rounds each): {fmt(w['without_cdc_per_s'])} orders/s with the connector stopped, "
        f"{fmt(w['with_cdc_per_s'])} with Debezium streaming: impact {w['impact']:.2f}."
    ]


def _latency(lat: dict[str, Any]) -> list[str]:
    quantiles = ("p50", "p95", "p99", "max")
    lines = [
        "| latency at a fixed rate | commit→Kafka p50 / p95 / p99 / max ms "
        "| commit→handled p50 / p95 / p99 / max ms |",
        "| --- | ---: | ---: |",
    ]
    for name, s in lat.items():
        k, h = s["commit_to_kafka_ms"], s["commit_to_handled_ms"]
        lines.append(
            f"| {name} (achieved {s['committed_per_s']:,.0f}/s) | "
            + " / ".join(fmt(k.get(q)) for q in quantiles)
            + " | "
            + " / ".join(fmt(h.get(q)) for q in quantiles)
            + " |"
        )
    return lines


def _capacity(c: dict[str, Any]) -> list[str]:
    quantiles = ("p50", "p95", "p99", "max")
    sat = c["saturation"]
    cpu = ", ".join(f"{name} {us:,.0f}" for name, us in sorted(sat["cpu_us_per_event"].items()))
    lines = [
        f"Pipeline capacity with pgbench as the writer: {fmt(c['bare_tx_per_s'])} order+outbox "
        f"transactions/s bare (connector and consumers stopped); flat out with everything "
        f"running, {fmt(sat['committed_per_s'])} committed/s and "
        f"{fmt(sat['handled_per_s'])} events/s committed → handled by all three groups "
        f"({c['ratio_to_bare']:.2f} x bare). CPU-µs per event: {cpu}.",
        "",
        "| pgbench at | achieved/s | commit→handled p50 / p95 / p99 / max ms |",
        "| --- | ---: | ---: |",
    ]
    for name, s in c["latency"].items():
        h = s["commit_to_handled_ms"]
        lines.append(
            f"| {name} ({s['offered_per_s']:,.0f}/s) | {s['committed_per_s']:,.0f} | "
            + " / ".join(fmt(h.get(q)) for q in quantiles)
            + " |"
        )
    return lines


def _consumers(c: dict[str, Any]) -> list[str]:
    rates = ", ".join(
        f"{n} {fmt(h['per_s'])}/s ({h['ratio_to_poll_decode']:.2f}x)"
        for n, h in c["handlers"].items()
    )
    return [
        f"Consumers on {c['messages']:,} messages: raw poll "
        f"{fmt(c['raw_poll_per_s'])}/s, poll + decode {fmt(c['raw_poll_decode_per_s'])}/s; "
        f"{rates}."
    ]


def _cpu_per_event(r: dict[str, Any]) -> list[str]:
    all_parts, floors = cpu_per_event(r)
    parts = ", ".join(f"{name} {us:,.0f}" for name, us in floors_us(r).items())
    return [
        f"CPU per event across all parts at saturation: {all_parts:,.0f} µs, "
        f"{all_parts / floors:.2f} x the sum of the floors measured in this run "
        f"({floors:,.0f} µs: {parts})."
    ]


def _scale_out(s: dict[str, Any]) -> list[str]:
    lines = [
        f"| one group on {s['partitions']} partitions | 1 instance | 2 instances | 3 instances |",
        "| --- | ---: | ---: | ---: |",
    ]
    for handler, rows in s["handlers"].items():
        cells = [
            f"{r['handled_per_s']:,.0f}/s, {r['cores']:.2f} cores ({r['vs_one']:.2f}x)"
            for r in rows
        ]
        lines.append(f"| {handler} | " + " | ".join(cells) + " |")
    return lines


def _writer_cpu(r: dict[str, Any]) -> list[str]:
    w = r["writer_cpu"]
    return [
        f"Writer CPU per order on its own thread ({w['orders']:,} orders, two lines, same rows "
        f"and commit): service layer {w['service_cpu_us']:,.0f} µs, bare psycopg "
        f"{w['bare_cpu_us']:,.0f} µs ({w['ratio']:.2f}x)."
    ]


def _relay(relay: dict[str, Any]) -> list[str]:
    return [
        f"| relay | p99 commit→Kafka at {relay['rate']:g}/s, consumers stopped "
        "| statements/s idle | backlog drain events/s |",
        "| --- | ---: | ---: | ---: |",
        f"| Debezium (pgoutput) | {fmt(relay['debezium_p99_ms'])} ms | "
        f"{relay['debezium_idle_statements_per_s']:.2f} | "
        f"{fmt(relay['debezium_drain_per_s'])} |",
        f"| polling relay (SKIP LOCKED, 100 ms sleep) | {fmt(relay['p99_ms'])} ms | "
        f"{relay['idle_statements_per_s']:.2f} | {fmt(relay['drain_per_s'])} |",
        "",
        "Idle statements are counted by pg_stat_statements per role; Debezium's are its "
        "heartbeat (one INSERT per heartbeat.interval.ms, which keeps the slot advancing, and "
        "a connection check). With the three consumer groups also running, Debezium's p99 "
        f"commit→Kafka at {relay['rate']:g}/s is "
        f"{fmt(relay.get('debezium_in_pipeline_p99_ms'))} ms.",
    ]


def _targets(targets: list[dict[str, Any]]) -> list[str]:
    lines = ["| target | measured | holds |", "| --- | --- | :---: |"]
    for t in targets:
        lines.append(f"| {t['target']} | {t['measured']} | {'yes' if t['holds'] else 'no'} |")
    return lines


def _cpu_table(steps: list[dict[str, Any]]) -> list[str]:
    """Cores each part kept busy during each load step: where the machine is the bound."""
    names = list(steps[0]["cores"]) if steps and steps[0].get("cores") else []
    if not names:
        return []
    rows = [
        "| offered orders/s | " + " | ".join(names) + " | total cores |",
        "| ---: | " + " | ".join("---:" for _ in names) + " | ---: |",
    ]
    for s in steps:
        cores = s["cores"]
        rows.append(
            f"| {s['offered_per_s']:g} | "
            + " | ".join(f"{cores.get(n, 0):.2f}" for n in names)
            + f" | {sum(cores.values()):.2f} |"
        )
    return rows


def write(r: dict[str, Any], out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(r, indent=2, default=str))
    (out / "results.md").write_text(markdown(r))
    drawn = plots(r, out) if "relay" in r else []  # the plots compare the relays too
    return [out / "results.json", out / "results.md", *drawn]
