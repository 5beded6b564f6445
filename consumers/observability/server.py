"""The consumers' HTTP port (default 127.0.0.1:9400): ``/metrics`` for Prometheus,
``/health/live`` and ``/health/ready`` for compose, Kubernetes and ``make status``.

One port for all the processes ``python -m consumers`` runs: the supervisor (or the single
process of ``run``) serves it from a thread, reading every process's metrics from
prometheus-client's multiprocess directory. ``prepare()`` must run before prometheus-client is
imported anywhere in the process tree: the library picks its storage at import time.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from consumers.observability import health

ENV = "PROMETHEUS_MULTIPROC_DIR"


def prepare(directory: Path | None = None) -> Path:
    """The multiprocess directory, emptied (stale files would add a previous run's counts),
    exported in the environment the children inherit. Idempotent for one process tree."""
    if ENV in os.environ and directory is None:
        path = Path(os.environ[ENV])
    else:
        path = directory or Path(tempfile.mkdtemp(prefix="consumers-metrics-"))
    if path.exists():
        for stale in path.glob("*.db"):
            stale.unlink()
    path.mkdir(parents=True, exist_ok=True)
    os.environ[ENV] = str(path)
    return path


def process_died(pid: int) -> None:
    """Drop a dead child's live gauges (its counters stay: they happened)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]


def exposition_registry() -> Any:
    from prometheus_client import CollectorRegistry, multiprocess

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return registry


class _Handler(BaseHTTPRequestHandler):
    registry: Any
    groups: list[str]
    stale_after: float
    clock: Callable[[], float]

    def do_GET(self) -> None:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            self._send(200, generate_latest(self.registry), CONTENT_TYPE_LATEST)
            return
        samples = [s for family in self.registry.collect() for s in family.samples]
        if path in ("/health", "/health/live"):
            verdict = health.live(samples, self.clock(), self.stale_after)
        elif path == "/health/ready":
            verdict = health.ready(samples, self.groups)
        else:
            self._send(404, b"not found: try /metrics, /health/live, /health/ready\n", "text/plain")
            return
        body = json.dumps({"ok": verdict.ok, **verdict.detail}).encode() + b"\n"
        self._send(200 if verdict.ok else 503, body, "application/json")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # scraped every few seconds: not worth a log line each


def serve(
    host: str,
    port: int,
    *,
    groups: list[str],
    stale_after: float,
    registry: Any = None,
    clock: Callable[[], float] = time.time,
) -> ThreadingHTTPServer:
    """Listening when it returns (a taken port raises ``OSError`` here, not later); serves
    from a daemon thread until ``shutdown()``."""
    handler = type(
        "Handler",
        (_Handler,),
        {
            "registry": registry if registry is not None else exposition_registry(),
            "groups": groups,
            "stale_after": stale_after,
            "clock": staticmethod(clock),
        },
    )
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="metrics-http", daemon=True).start()
    return server


def cleanup(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
