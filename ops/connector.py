"""``make connector [ACTION=status|pause|resume|restart]``: the connector and its tasks (state,
worker, the first line of a failed task's trace), and the three actions Debezium's tutorial
does with curl, with the operator's credentials read from ``.env`` (never on a command line).

An action waits until the connector and every task reached the state it asks for (PAUSED or
RUNNING), so a script can go on at once; ``restart`` restarts the tasks too
(``includeTasks=true``), which is what a failed task needs. Works on both stacks: it only
talks to Connect's REST port.
"""

from __future__ import annotations

import argparse
import json
import time
import urllib.error
from pathlib import Path
from typing import Any, cast

from contract.kafka import KafkaAccess
from ops.errors import Refused, Unreachable
from ops.tables import console, table
from stack.rest import ConnectRest

out = console()
# What each action asks of Connect, and the state it waits for.
ACTIONS = {
    "pause": ("PUT", "/pause", "PAUSED"),
    "resume": ("PUT", "/resume", "RUNNING"),
    "restart": ("POST", "/restart?includeTasks=true&onlyFailed=false", "RUNNING"),
}


def _call(rest: ConnectRest, path: str, method: str = "GET") -> Any:
    try:
        return rest.call(path, method=method, timeout=30)
    except urllib.error.HTTPError as exc:
        if exc.code in (401, 403):
            raise Refused("Kafka Connect", rest.url, f"HTTP {exc.code}: check .env") from exc
        raise
    except (urllib.error.URLError, OSError) as exc:
        raise Unreachable("Kafka Connect", rest.url, exc) from exc


def describe(rest: ConnectRest, name: str) -> dict[str, Any]:
    """Connect's status of ``name`` ({"state": "NOT REGISTERED"} when it has none)."""
    try:
        body = cast(dict[str, Any], _call(rest, f"/connectors/{name}/status"))
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return {"name": name, "state": "NOT REGISTERED", "worker_id": None, "tasks": []}
        raise
    return {
        "name": name,
        "state": body["connector"]["state"],
        "worker_id": body["connector"].get("worker_id"),
        "tasks": [
            {
                "id": t["id"],
                "state": t["state"],
                "worker_id": t.get("worker_id"),
                **({"trace": t["trace"]} if t.get("trace") else {}),
            }
            for t in body.get("tasks", [])
        ],
    }


def settled(found: dict[str, Any], state: str) -> bool:
    return found["state"] == state and all(t["state"] == state for t in found["tasks"])


def _in(found: dict[str, Any], states: set[str]) -> bool:
    every = {found["state"], *(t["state"] for t in found["tasks"])}
    return bool(found["tasks"]) and every <= states


def act(rest: ConnectRest, name: str, action: str, timeout: float = 60) -> dict[str, Any]:
    """Ask Connect for ``action`` and wait until the connector and its tasks are there."""
    method, suffix, wanted = ACTIONS[action]
    _call(rest, f"/connectors/{name}{suffix}", method)
    deadline = time.monotonic() + timeout
    while True:
        found = describe(rest, name)
        if (settled(found, wanted) and found["tasks"]) or time.monotonic() > deadline:
            return found
        time.sleep(0.5)


def cmd_connector(args: argparse.Namespace, _: KafkaAccess) -> int:
    from stack import connect
    from stack.settings import StackSettings

    settings = StackSettings()
    rest = settings.connect_rest()
    names = [c["name"] for c in connect.load_connector_files(Path.cwd() / "connectors")]
    if args.action == "status":
        found = [describe(rest, n) for n in names]
    else:
        found = [act(rest, n, args.action) for n in names]
    if args.json:
        print(json.dumps({"action": args.action, "connectors": found}, indent=2))
    else:
        show(found)
    # Exit 1 for scripts when an action did not get there, or (status) something is neither
    # running nor paused on purpose: FAILED, UNASSIGNED, not registered.
    wanted = {ACTIONS[args.action][2]} if args.action in ACTIONS else {"RUNNING", "PAUSED"}
    return 0 if all(_in(c, wanted) for c in found) else 1


def show(found: list[dict[str, Any]]) -> None:
    rows = table("connector", "task", "state", "worker", "trace")
    for c in found:
        rows.add_row(c["name"], "-", _state(c["state"]), c["worker_id"] or "-", "")
        for t in c["tasks"]:
            trace = (t.get("trace") or "").strip().splitlines()[:1]
            rows.add_row(
                "", str(t["id"]), _state(t["state"]), t["worker_id"] or "-", *trace or [""]
            )
    out.print(rows)


def _state(state: str) -> str:
    colour = {"RUNNING": "green", "PAUSED": "yellow"}.get(state, "red")
    return f"[{colour}]{state}[/]"
