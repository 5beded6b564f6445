"""The Debezium connector stopped for a block of the benchmark, and its heartbeat interval."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from stack import connect
from stack.health import StackError
from stack.rest import ConnectRest

CONNECTOR = "orders-outbox"


@contextmanager
def connector_stopped(rest: ConnectRest) -> Iterator[None]:
    """The connector's task shut down (Connect's stop, not pause: a paused Debezium task keeps
    decoding the WAL into its queue), so the slot is inactive and nothing is decoded. On
    resume it streams from the slot's confirmed position: nothing is lost."""
    rest.call(f"/connectors/{CONNECTOR}/stop", method="PUT")
    _wait_state(rest, "STOPPED")
    try:
        yield
    finally:
        rest.call(f"/connectors/{CONNECTOR}/resume", method="PUT")
        _wait_state(rest, "RUNNING")


def _wait_state(rest: ConnectRest, state: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st = connect.status(rest, CONNECTOR)
        if st is not None and st.state == state and all(t[1] == state for t in st.tasks):
            return
        time.sleep(0.3)
    raise StackError(f"connector {CONNECTOR} not {state} after {timeout:.0f}s")


def heartbeat_seconds(connector_file: Path) -> float:
    config = json.loads(connector_file.read_text())["config"]
    return int(config["heartbeat.interval.ms"]) / 1000
