"""The benchmark's quick mode runs end to end against the real pipeline and writes its JSON,
Markdown and plots. It asserts that every figure was measured, never how fast anything was."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from consumers.bootstrap import Running, bootstrap
from consumers.handlers import REGISTRY
from consumers.settings import ConsumerSettings
from contract.kafka import KafkaAccess
from stack.health import groups_probe
from stack.layout import Layout
from stack.parts import consumers_part
from stack.rest import ConnectRest
from stack.settings import StackSettings
from tests.conftest import ROOT
from tests.kafka_helpers import register_connector

pytestmark = pytest.mark.e2e


@pytest.fixture
def consumers_running(connect_up: ConnectRest, kafka_up: KafkaAccess) -> Iterator[None]:
    """The benchmark follows orders to the three groups; run them for its duration."""
    register_connector(connect_up)
    settings = ConsumerSettings(_env_file=ROOT / ".env", stats_interval_seconds=3600)
    running: list[Running] = [bootstrap(settings, r) for r in REGISTRY.values()]
    stop = threading.Event()
    threads = [
        threading.Thread(target=r.processor.run, kwargs={"until": lambda p: stop.is_set()})
        for r in running
    ]
    for t in threads:
        t.start()
    probe = groups_probe(kafka_up, lambda: sorted(REGISTRY))
    deadline = time.monotonic() + 60
    while probe() is not None and time.monotonic() < deadline:
        time.sleep(0.5)
    yield
    stop.set()
    for t in threads:
        t.join()
    for r in running:
        r.close()


def test_quick_benchmark_writes_every_figure(
    consumers_running: None, stack_settings: StackSettings, tmp_path: Path
) -> None:
    # `make up` runs the consumers as a stack part, `make test` alone does not: the bench stops
    # that part for its writer figures (and starts it again) only when it was running.
    part = consumers_part(Layout(ROOT), stack_settings)
    part_was_running = part.pid() is not None
    out = tmp_path / "results"
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads((out / "results.json").read_text())
    limits = result["limits"]
    assert all(
        limits[k] > 0 for k in ("bare_tx_1", "bare_tx_4", "produce", "consume", "encode", "decode")
    )
    assert result["writer"]["impact"] > 0
    assert all(s["complete"] for s in result["steps"]), result["steps"]
    [latency] = result["latency"].values()
    assert set(latency["commit_to_handled_ms"]) == {"p50", "p95", "p99", "max", "mean"}
    assert result["relay"]["published"] == result["relay"]["written"] > 0
    assert result["relay"]["drain_per_s"] > 0
    assert result["relay"]["debezium_drain_per_s"] > 0
    assert result["relay"]["idle_statements_per_s"] > 0  # polling: counted by the database
    assert result["relay"]["debezium_idle_statements_per_s"] >= 0
    assert all(sum(s["cores"].values()) > 0 for s in result["steps"])
    assert result["writer"]["consumers_stopped"] is part_was_running
    assert (part.pid() is not None) is part_was_running  # started again if it ran
    assert set(result["consumers"]["handlers"]) == set(REGISTRY)
    cap = result["capacity"]
    assert cap["bare_tx_per_s"] > 0
    assert cap["saturation"]["complete"], cap["saturation"]
    assert cap["saturation"]["handled_per_s"] > 0
    assert cap["saturation"]["cpu_us_per_event"]["postgres"] > 0
    assert cap["saturation"]["cpu_us_per_event"]["pgbench (load generator)"] > 0
    assert {"25%", "50%", "75%"} <= set(cap["latency"])
    assert all(s["complete"] for s in cap["latency"].values()), cap["latency"]
    assert all(s["commit_to_handled_ms"]["p99"] > 0 for s in cap["latency"].values())
    assert cap["bare_cpu_us_per_tx"] > 0
    writer = result["writer_cpu"]
    assert writer["service_cpu_us"] > 0
    assert writer["bare_cpu_us"] > 0
    [scaled] = result["scale_out"]["handlers"].values()
    assert [row["instances"] for row in scaled] == [1, 2, 3]
    assert all(row["handled_per_s"] > 0 and row["cores"] > 0 for row in scaled)
    assert len(result["targets"]) == 9
    md = (out / "results.md").read_text()
    assert "| target | measured | holds |" in md
    for png in ("throughput.png", "latency.png", "cpu.png", "capacity.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
