"""``make bench`` / ``python -m bench [--quick]``: every figure in one run, against the native
stack brought up by ``make up`` (API and consumers running). Results go to bench/results/.

Order of the run (``PHASES``; each phase in ``bench.phases``), and why:
1. limits, in a scratch database with the connector stopped (nothing decodes meanwhile);
2. the writer with and without CDC, with the consumers stopped so that Debezium is the only
   difference; the orders written while the connector was stopped are Debezium's backlog drain;
3. load steps, then fixed rates, each after the backlog of the one before is handled;
4. the pipeline's capacity with pgbench as the writer (``bench.capacity``);
5. consumers against a raw poll + decode loop; 6. one group scaled out to 1, 2 and 3
   instances (``bench.scale_out``); 7. the polling relay; 8. idle statements.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.progress import Progress

from bench import limits, phases
from bench.phases import GROUPS, Bench
from bench.report import machine
from bench.targets import targets
from consumers.settings import ConsumerSettings
from contract import AvroCodec, SchemaRepository
from producer_app.bootstrap import bootstrap
from producer_app.settings import ProducerSettings
from stack.health import StackError, groups_probe
from stack.layout import Layout
from stack.parts import app_parts, consumers_part, stack_parts
from stack.settings import StackSettings

ROOT = Path(__file__).resolve().parent.parent
# The limits first, on an idle machine; the relay last, since it stops the connector.
PHASES: tuple[tuple[str, Callable[[Bench, dict[str, Any]], None]], ...] = (
    ("limits (connector stopped: no decoding)", phases.machine_limits),
    ("writer with and without CDC (consumers stopped)", phases.writer),
    ("pipeline: offered load stepped up", phases.load_steps),
    ("latency at fixed rates", phases.latency),
    ("pipeline capacity, pgbench as the writer", phases.pipeline_capacity),
    ("consumers vs raw poll + decode", phases.consumers),
    ("one group scaled out to 1, 2 and 3 instances", phases.scaled_out),
    ("polling relay baseline, then idle statements", phases.polling_relay),
)

# The phases whose figures depend on Kafka's topology (three replicas, acks=all to two of
# them): on the HA topology ``make bench`` runs these only and compares them with the single
# topology's (``bench.topologies``); the others measure Postgres, the codec and the
# consumers, which the topology does not change.
TOPOLOGY_PHASES = tuple(
    (name, phase)
    for name, phase in PHASES
    if phase in (phases.load_steps, phases.latency, phases.pipeline_capacity)
)


def _require_consumers(stack: StackSettings) -> None:
    probe = groups_probe(stack.kafka_as("tools"), lambda: GROUPS)
    deadline = time.monotonic() + 30  # a group may still be settling after make up
    while (groups := probe()) is not None and time.monotonic() < deadline:
        time.sleep(0.5)
    if groups is not None:
        raise StackError(f"the consumers must run (make up): {groups}")


def setup(quick: bool) -> Bench:
    """The settings, the parts' pids, the producer, and a sample order's bytes, once."""
    stack, app = StackSettings(), ProducerSettings()
    layout = Layout(ROOT)
    every = stack_parts(layout, stack) + app_parts(layout, stack)
    _require_consumers(stack)
    repository = SchemaRepository.load()
    payload = AvroCodec(repository).encode(limits.sample_record(), repository.get("OrderPlaced"))
    return Bench(
        quick,
        stack,
        app,
        ConsumerSettings(stats_interval_seconds=3600),
        consumers_part(layout, stack),
        {p.name: p.pid for p in every},
        bootstrap(app),
        payload,
    )


def run(quick: bool, out: Path, say: Callable[[str], None]) -> dict[str, Any]:
    """The phases in their order (``TOPOLOGY_PHASES`` on the HA topology), with a progress
    bar; ``say`` hears each phase's name."""
    b = setup(quick)
    topology = b.stack.topology.name
    chosen = PHASES if topology == "single" else TOPOLOGY_PHASES
    result: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "quick": quick,
        "topology": topology,
        "machine": machine(),
    }
    with Progress() as progress:
        task = progress.add_task("benchmark", total=len(chosen))
        for name, phase in chosen:
            progress.update(task, description=name)
            say(name)
            phase(b, result)
            progress.advance(task)
    b.producer.close()
    if "limits" in result:
        result["writer_cpu"] = result["limits"].pop("writer_cpu")
        result["targets"] = targets(result, b.saturation)
    return result
