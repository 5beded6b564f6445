"""The benchmark's PNG plots: throughput vs offered load, latency distributions and CPU by
part for the service-layer writer, and the pgbench capacity run in one figure."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from bench.targets import floors_us


def _cdf(ax: Any, values: list[float], style: str, label: str) -> None:
    """The empirical distribution of ``values`` (nothing when empty)."""
    ordered = sorted(values)
    if ordered:
        fractions = [i / len(ordered) for i in range(1, len(ordered) + 1)]
        ax.plot(ordered, fractions, style, label=label)


def plots(r: dict[str, Any], out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    fig, ax = plt.subplots(figsize=(7, 4))
    offered = [s["offered_per_s"] for s in r["steps"]]
    ax.plot(offered, offered, "--", color="grey", label="offered")
    ax.plot(offered, [s["committed_per_s"] for s in r["steps"]], "o-", label="committed")
    ax.plot(
        offered,
        [s["end_to_end_per_s"] for s in r["steps"]],
        "s-",
        label="handled by all three groups",
    )
    ax.set(xlabel="offered orders/s", ylabel="per second", title="Throughput vs offered load")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "throughput.png", dpi=110)
    written.append(out / "throughput.png")
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(7, 4))
    for name, s in r["latency"].items():
        _cdf(ax, s["raw_commit_to_handled_ms"], "-", f"commit→handled {name}")
        _cdf(ax, s["raw_commit_to_kafka_ms"], "--", f"commit→Kafka {name}")
    _cdf(
        ax,
        r["relay"].get("debezium_raw_latencies_ms", []),
        "-.",
        "Debezium commit→Kafka, consumers stopped",
    )
    _cdf(ax, r["relay"]["raw_latencies_ms"], ":", "polling relay commit→Kafka")
    ax.set(xlabel="milliseconds", ylabel="fraction of events", title="Latency distribution")
    ax.set_xscale("log")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "latency.png", dpi=110)
    written.append(out / "latency.png")
    plt.close(fig)
    written.append(_cpu_plot(plt, r["steps"], out))
    written.append(_capacity_plot(plt, r, out))
    return written


def _cpu_plot(plt: Any, steps: list[dict[str, Any]], out: Path) -> Path:
    """Cores each part kept busy per load step, stacked: where the machine runs out."""
    fig, ax = plt.subplots(figsize=(7, 4))
    names = list(steps[0]["cores"]) if steps else []
    labels = [f"{s['offered_per_s']:g}" for s in steps]
    bottom = [0.0] * len(steps)
    for name in names:
        values = [s["cores"].get(name, 0.0) for s in steps]
        ax.bar(labels, values, bottom=bottom, label=name)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    cores = os.cpu_count() or 1
    ax.axhline(cores, color="grey", linestyle="--", label=f"{cores} cores")
    ax.set(xlabel="offered orders/s", ylabel="cores busy", title="CPU by part during each step")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "cpu.png", dpi=110)
    plt.close(fig)
    return out / "cpu.png"


def _capacity_plot(plt: Any, r: dict[str, Any], out: Path) -> Path:
    """pgbench as the writer: offered vs committed, commit→handled CDFs at each rate, and
    CPU-µs per event per part at saturation next to the floors."""
    cap = r["capacity"]
    fig, (load, lat, cpu) = plt.subplots(1, 3, figsize=(15, 4))
    runs = sorted(cap["latency"].values(), key=lambda s: s["offered_per_s"])
    offered = [s["offered_per_s"] for s in runs]
    load.plot(offered, offered, "--", color="grey", label="offered")
    load.plot(offered, [s["committed_per_s"] for s in runs], "o-", label="committed")
    load.axhline(
        cap["bare_tx_per_s"], color="tab:red", linestyle=":", label="bare (nothing behind)"
    )
    load.axhline(
        cap["saturation"]["handled_per_s"], color="tab:green", linestyle="-.", label="saturation"
    )
    load.set(xlabel="pgbench orders/s offered", ylabel="per second", title="pgbench load")
    load.legend(fontsize=7)
    for name, s in cap["latency"].items():
        label = f"{name} ({s['committed_per_s']:,.0f}/s)"
        _cdf(lat, s.get("raw_commit_to_handled_ms", []), "-", label)
    lat.set(xlabel="commit→handled ms", ylabel="fraction of orders", title="Latency (pgbench)")
    lat.set_xscale("log")
    lat.legend(fontsize=7)
    parts = cap["saturation"]["cpu_us_per_event"]
    floors = floors_us(r)
    bottom = 0.0
    for name, us in sorted(parts.items()):
        cpu.bar(["all parts"], [us], bottom=[bottom], label=name)
        bottom += us
    bottom = 0.0
    for name, us in floors.items():
        cpu.bar(["sum of floors"], [us], bottom=[bottom], label=f"floor: {name}", hatch="//")
        bottom += us
    cpu.set(ylabel="CPU-µs per event", title="CPU per event at saturation")
    cpu.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(out / "capacity.png", dpi=110)
    plt.close(fig)
    return out / "capacity.png"
