"""The consumers CLI: ``python -m consumers migrate | list | run HANDLER | run-all``.

Settings are built here and passed down. ``run`` handles SIGTERM/SIGINT gracefully: the
current batch finishes, its offsets are committed, and the instance leaves its group.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any

from consumer_runtime.logs import configure
from consumer_runtime.registry import Registration
from consumer_runtime.retention import Janitor, window_of
from consumer_runtime.runtime import Extras
from consumers.bootstrap import bootstrap
from consumers.handlers import REGISTRY
from consumers.observability import server
from consumers.observability.server import process_died
from consumers.settings import ConsumerSettings
from contract import SchemaRepository, SchemaVersion
from contract.cli import count, parser_for
from contract.tracing import provider


def fault_hook(path: Path | None) -> Callable[[], None] | None:
    """Fault injection for ``make chaos``: when ``path`` exists, the first instance to get
    here removes it and SIGKILLs itself, after its database commit and before its offset
    commit: the gap that idempotency must cover. Unset in production."""
    if path is None:
        return None

    def maybe_die() -> None:
        try:
            path.unlink()
        except FileNotFoundError:
            return
        os.kill(os.getpid(), signal.SIGKILL)

    return maybe_die


def overrun_hook(
    registration: Registration, path: Path | None, handler_bound: float
) -> Registration:
    """Fault injection for ``make chaos``: when ``path`` exists, the first handler call (or
    batch call) to get here removes it and runs one statement past the handler's bound, so
    that Postgres cancels it. Unset in production."""
    if path is None:
        return registration

    def overrun(connection: Any) -> None:
        try:
            path.unlink()
        except FileNotFoundError:
            return
        connection.execute("SELECT pg_sleep(%s)", (handler_bound + 1,))

    def handle(event: Any, ctx: Any) -> None:
        overrun(ctx.connection)
        registration.handle(event, ctx)

    def handle_batch(items: Any) -> None:
        overrun(items[0][1].connection)
        assert registration.handle_batch is not None
        registration.handle_batch(items)

    batch = handle_batch if registration.handle_batch is not None else None
    return dataclasses.replace(registration, handle=handle, handle_batch=batch)


def run_one(name: str, duplicate: bool = False) -> None:
    # Imported here, after ``serving`` prepared the metrics directory: prometheus-client picks
    # its multiprocess storage when it is first imported (consumers.observability.server).
    from prometheus_client import CollectorRegistry

    from consumers.observability.metrics import PrometheusTelemetry

    configure()
    settings = ConsumerSettings()
    telemetry = PrometheusTelemetry(CollectorRegistry())
    telemetry.started(name)
    telemetry.knows(name, ((v.event_type, v.version, v.fingerprint_bytes.hex()) for v in schemas()))
    tracer_provider = provider(f"consumers-{name}")
    handler_bound = settings.runtime_options().handler_bound
    running = bootstrap(
        settings,
        overrun_hook(REGISTRY[name], settings.fault_overrun_file, handler_bound),
        extras=Extras(
            duplicate=duplicate,
            on_db_committed=fault_hook(settings.fault_kill_file),
            telemetry=telemetry,
            tracer=tracer_provider.get_tracer("consumers") if tracer_provider else None,
        ),
    )

    if settings.dedup_purge_interval_seconds > 0:
        start_janitor(settings, name)

    def stop(signum: int, frame: FrameType | None) -> None:
        running.processor.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        running.processor.run()
    finally:
        running.close()
        if tracer_provider is not None:
            tracer_provider.shutdown()  # flushes spans still queued for the exporter


def schemas() -> list[SchemaVersion]:
    """The writer schemas this process decodes (the same files ``bootstrap`` loads)."""
    return list(SchemaRepository.load())


def start_janitor(settings: ConsumerSettings, name: str) -> None:
    """The group's purge of expired dedup marks, in a daemon thread of this process."""
    janitor = Janitor(
        name,
        settings.conninfo(name),
        lambda: window_of(settings.kafka_for(name), settings.topic, settings.dedup_margin_seconds),
        settings.dedup_purge_interval_seconds,
    )
    threading.Thread(target=janitor.run_forever, name="janitor", daemon=True).start()


def supervise(names: list[str], instances: int, duplicate: bool) -> int:
    """One process per (handler, instance). A child that dies is started again after a second
    (as systemd or Kubernetes would): its group rebalances, and idempotency absorbs what it
    had handled but not yet committed. SIGTERM/SIGINT is passed on to all of them."""
    ctx = multiprocessing.get_context("spawn")
    log = logging.getLogger("consumers.supervisor")
    stopping = False

    def start(name: str, i: int) -> multiprocessing.process.BaseProcess:
        p = ctx.Process(target=run_one, args=(name, duplicate), name=f"{name}-{i}")
        p.start()
        return p

    slots = [(name, i) for name in names for i in range(instances)]
    procs = {slot: start(*slot) for slot in slots}

    def forward(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        for p in procs.values():
            if p.pid is not None and p.is_alive():
                p.terminate()

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    while not stopping:
        for slot, p in list(procs.items()):
            if not p.is_alive() and not stopping:
                log.warning("%s exited with %s; starting it again", p.name, p.exitcode)
                if p.pid is not None:
                    process_died(p.pid)
                time.sleep(1)
                procs[slot] = start(*slot)
        time.sleep(0.5)
    for p in procs.values():
        p.join()
    return max((p.exitcode or 0) for p in procs.values())


def main(argv: list[str] | None = None) -> int:
    parser_class = parser_for({"--instances": "INSTANCES"})
    parser = parser_class(prog="python -m consumers")
    sub = parser.add_subparsers(dest="verb", required=True, parser_class=parser_class)
    sub.add_parser("migrate", help="apply the consumers' database migrations")
    sub.add_parser("list", help="registered handlers (= consumer groups)")
    run = sub.add_parser("run", help="run one handler's consumer group")
    run.add_argument("handler", choices=sorted(REGISTRY))
    run_all = sub.add_parser("run-all", help="run every handler")
    for p in (run, run_all):
        p.add_argument(
            "--instances", type=count(1, 64), default=1, help="processes sharing the group"
        )
        p.add_argument(
            "--duplicate",
            action="store_true",
            help="handle every message twice (proves idempotency; for demos)",
        )
    args = parser.parse_args(argv)

    if args.verb == "migrate":
        from consumers.migrate import MigrationSettings, upgrade

        upgrade(MigrationSettings())
        print("consumers migrations at head")
        return 0
    if args.verb == "list":
        for name, reg in sorted(REGISTRY.items()):
            print(f"{name:<18} group={name:<18} events={','.join(sorted(reg.event_types))}")
        return 0
    names = [args.handler] if args.verb == "run" else sorted(REGISTRY)
    configure()
    with serving(ConsumerSettings(), names):
        if len(names) == 1 and args.instances == 1:
            run_one(names[0], args.duplicate)
            return 0
        return supervise(names, args.instances, args.duplicate)


@contextlib.contextmanager
def serving(settings: ConsumerSettings, names: list[str]) -> Iterator[None]:
    """The metrics and health port for every process started inside (see
    ``consumers.observability.server``); none when the port is 0."""
    owned = server.ENV not in os.environ
    directory = server.prepare()
    http = None
    if settings.consumer_metrics_port:
        try:
            http = server.serve(
                settings.consumer_metrics_host,
                settings.consumer_metrics_port,
                groups=names,
                stale_after=settings.max_poll_interval_ms / 1000,
            )
        except OSError as exc:
            raise SystemExit(
                f"error: cannot serve metrics on {settings.consumer_metrics_host}:"
                f"{settings.consumer_metrics_port} ({exc.strerror}); another consumers process "
                "holds it? Set CONSUMER_METRICS_PORT (0: no port)"
            ) from exc
        logging.getLogger("consumers").info(
            "metrics and health on http://%s:%d/metrics",
            settings.consumer_metrics_host,
            settings.consumer_metrics_port,
        )
    try:
        yield
    finally:
        if http is not None:
            http.shutdown()
        if owned:
            server.cleanup(directory)
