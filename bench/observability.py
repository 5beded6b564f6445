"""What metrics and tracing cost per event: one handler replays the order topic into a scratch
database three times, each in a fresh process (prometheus-client picks its storage at import),
and the process's own CPU time is divided by the events it settled:

1. ``quiet``: no telemetry, the global no-op tracer (the floor);
2. ``metrics``: Prometheus telemetry in multiprocess mode, as ``python -m consumers`` runs it;
3. ``metrics+traces``: and tracing as ``python -m consumers`` runs it when
   ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set: spans batched and exported over OTLP/HTTP, here to a
   sink in this process that answers 200 (its own CPU, a few us per request, is counted too).
   Without the variable nothing is traced (``contract.tracing``): the cost is ``metrics``'.
4. ``metrics+traces@10%``: the same with OpenTelemetry's standard sampler variables set to
   keep one trace in ten (``OTEL_TRACES_SAMPLER=traceidratio``, ``..._ARG=0.1``; decided by
   the trace id, so every service keeps the same traces whole).

Postgres' and Kafka's CPU are not in these figures: only the consumer process pays for its
observability. ``python -m bench.observability [--events N] [--handler NAME] [--json]`` after
``make up`` and ``make seed``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import uuid
from dataclasses import replace
from typing import Any

from bench.consumer_rates import forget_group, topic_size
from bench.scratch import scratch_consumer_db, throwaway_group
from consumer_runtime.message import Outcome
from consumer_runtime.ports import Quiet
from consumer_runtime.runtime import Extras
from consumers.bootstrap import bootstrap
from consumers.handlers import REGISTRY
from consumers.observability import server
from consumers.settings import ConsumerSettings
from contract.topics import dlq_topic
from contract.tracing import provider
from stack.settings import StackSettings

VARIANTS = ("quiet", "metrics", "metrics+traces", "metrics+traces@10%")


def run_variant(variant: str, events: int, handler: str) -> dict[str, Any]:
    """In this process: replay ``events`` through ``handler``; CPU seconds per event."""
    directory = server.prepare() if variant != "quiet" else None
    # After prepare(): prometheus-client picks its multiprocess storage when first imported.
    from prometheus_client import CollectorRegistry

    from consumers.observability.metrics import PrometheusTelemetry

    stack, settings = StackSettings(), ConsumerSettings(stats_interval_seconds=3600)
    tools = stack.kafka_as("tools")
    events = min(events, topic_size(tools, settings.topic)[1])  # a replay ends at the end
    registration = replace(REGISTRY[handler], name=f"bench-obs-{uuid.uuid4().hex[:6]}")
    with (
        scratch_consumer_db(stack, settings) as scratch,
        throwaway_group(stack, scratch, tools, registration.name, handler),
    ):
        telemetry = PrometheusTelemetry(CollectorRegistry()) if variant != "quiet" else None
        tracer = None
        if variant.startswith("metrics+traces"):
            if variant.endswith("@10%"):
                os.environ.update(OTEL_TRACES_SAMPLER="traceidratio", OTEL_TRACES_SAMPLER_ARG="0.1")
            traced = provider("bench", {"OTEL_EXPORTER_OTLP_ENDPOINT": otlp_sink()})
            assert traced is not None
            tracer = traced.get_tracer("consumers")
        extras = Extras(telemetry=telemetry or Quiet(), tracer=tracer)
        running = bootstrap(scratch, registration, extras=extras)
        processor, marks = running.processor, dict[str, float]()

        def until(p: object) -> bool:
            settled = Outcome.settled(processor.stats)
            if settled and "cpu" not in marks:
                marks.update(cpu=time.process_time(), wall=time.perf_counter(), at=settled)
            return settled >= events

        processor.run(until=until)
        cpu, wall = time.process_time() - marks["cpu"], time.perf_counter() - marks["wall"]
        measured = Outcome.settled(processor.stats) - marks["at"]
        running.close()
    if measured <= 0:
        raise SystemExit(f"too few events to measure ({events}): ask for more than one batch")
    forget_group(tools, registration.name, [dlq_topic(registration.name, settings.dlq_prefix)])
    if directory is not None:
        server.cleanup(directory)
    return {
        "variant": variant,
        "events": measured,
        "cpu_us_per_event": cpu / measured * 1e6,
        "events_per_s": measured / wall,
    }


def otlp_sink() -> str:
    """An OTLP/HTTP endpoint that accepts every export (this process, a daemon thread)."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Sink(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    sink = ThreadingHTTPServer(("127.0.0.1", 0), Sink)
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{sink.server_address[1]}"


def measure(events: int, handler: str, rounds: int = 2) -> dict[str, Any]:
    """Each variant ``rounds`` times, interleaved; the least CPU per event of each kept (the
    run least disturbed by the rest of the machine)."""
    best: dict[str, dict[str, Any]] = {}
    for _ in range(rounds):
        for variant in VARIANTS:
            done = subprocess.run(
                [sys.executable, "-m", "bench.observability", "--variant", variant,
                 "--events", str(events), "--handler", handler],
                capture_output=True, text=True, check=True,
            )  # fmt: skip
            row = json.loads(done.stdout.strip().splitlines()[-1])
            if variant not in best or row["cpu_us_per_event"] < best[variant]["cpu_us_per_event"]:
                best[variant] = row
    floor = best["quiet"]["cpu_us_per_event"]
    for row in best.values():
        row["added_us_per_event"] = row["cpu_us_per_event"] - floor
        row["ratio_to_quiet"] = row["cpu_us_per_event"] / floor
    return {"handler": handler, "events": events, "variants": best}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--handler", default="notifications")
    parser.add_argument("--variant", choices=VARIANTS, help=argparse.SUPPRESS)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.variant:  # one measurement, in this fresh process
        print(json.dumps(run_variant(args.variant, args.events, args.handler)))
        return
    result = measure(args.events, args.handler)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{result['handler']}: CPU of the consumer process per event, {args.events:,} events")
    for name, row in result["variants"].items():
        print(
            f"  {name:<19} {row['cpu_us_per_event']:7.1f} us/event"
            f"  (+{row['added_us_per_event']:5.1f}, {row['ratio_to_quiet']:.2f} x quiet)"
            f"  {row['events_per_s']:>8,.0f} events/s"
        )


if __name__ == "__main__":
    main()
