"""Register connectors over the Connect REST API and wait until they really run.

``PUT /connectors/{name}/config`` creates or updates, so registering twice is harmless. A
connector counts as up only when the connector *and* every task report RUNNING; a FAILED task's
stack trace is put in the error, since that is the first thing anyone needs to read.
"""

from __future__ import annotations

import json
import time
import urllib.error
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from stack.health import StackError
from stack.rest import ConnectRest


@dataclass(frozen=True)
class ConnectorStatus:
    name: str
    state: str
    tasks: tuple[tuple[int, str, str], ...]  # (task id, state, trace or "")
    # host:port of the worker each task is assigned to, as Connect last recorded it: a dead
    # worker's task shows there until the group notices (session.timeout.ms) and moves it.
    workers: tuple[str, ...] = ()

    @property
    def running(self) -> bool:
        return (
            self.state == "RUNNING"
            and bool(self.tasks)
            and all(t[1] == "RUNNING" for t in self.tasks)
        )

    @property
    def failed(self) -> bool:
        return self.state == "FAILED" or any(t[1] == "FAILED" for t in self.tasks)

    def describe(self) -> str:
        tasks = ", ".join(f"task {i} {s}" for i, s, _ in self.tasks) or "no tasks yet"
        return f"{self.name}: connector {self.state}, {tasks}"


def parse_status(body: dict[str, Any]) -> ConnectorStatus:
    tasks = tuple(
        (int(t["id"]), str(t["state"]), str(t.get("trace", ""))) for t in body.get("tasks", [])
    )
    workers = tuple(str(t.get("worker_id", "")) for t in body.get("tasks", []))
    return ConnectorStatus(body["name"], body["connector"]["state"], tasks, workers)


def load_connector_files(directory: Path) -> list[dict[str, Any]]:
    files = sorted(directory.glob("*.json"))
    if not files:
        raise StackError(f"no connector configs in {directory}")
    return [cast(dict[str, Any], json.loads(f.read_text())) for f in files]


def for_workers(connector: dict[str, Any], *, exactly_once: bool) -> dict[str, Any]:
    """``connector`` as these workers run it: with exactly-once source on the workers
    (``CONNECT_EXACTLY_ONCE``), the connector requires it, so that it fails rather than run
    without it (KIP-618's ``exactly.once.support=required``)."""
    if not exactly_once:
        return connector
    return {**connector, "config": {**connector["config"], "exactly.once.support": "required"}}


def status(rest: ConnectRest, name: str) -> ConnectorStatus | None:
    try:
        return parse_status(cast(dict[str, Any], rest.call(f"/connectors/{name}/status")))
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return None
        raise


def register(
    rest: ConnectRest, connector: dict[str, Any], *, timeout: float = 90.0
) -> ConnectorStatus:
    name = connector["name"]
    try:
        rest.call(f"/connectors/{name}/config", method="PUT", body=connector["config"], timeout=30)
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode("utf-8", "replace")
        raise StackError(f"Connect refused {name} ({exc.code}): {detail}") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise StackError(f"Kafka Connect not reachable at {rest}: {exc}") from exc
    deadline = time.monotonic() + timeout
    current = None
    while time.monotonic() < deadline:
        current = status(rest, name)
        if current is not None and current.failed:
            traces = "\n".join(t[2] for t in current.tasks if t[2])
            raise StackError(f"{current.describe()}\n{traces}")
        if current is not None and current.running:
            return current
        time.sleep(0.5)
    seen = current.describe() if current else "no status"
    raise StackError(f"{name} not RUNNING after {timeout:.0f}s ({seen})")


def delete(rest: ConnectRest, name: str) -> bool:
    try:
        rest.call(f"/connectors/{name}", method="DELETE")
        return True
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return False
        raise
