"""``status``: each process of the native stack and its health, connector and task state (with
the task's trace when FAILED), every replication slot (active, confirmed_flush_lsn, WAL retained
behind it, with a warning past a threshold; a slot that is not a connector's is a problem:
whoever made it can decode every table of its database), the consumers' probes, each
consumer group's state as the broker sees it (Stable, with its members), each broker of the
topology and the partitions not fully replicated (``ops.cluster``), and which Connect worker
runs each task."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from ops import cluster
from ops.compose_parts import compose_parts
from ops.errors import Refused, Unreachable
from stack import connect
from stack.layout import Layout
from stack.parts import app_parts, stack_parts
from stack.settings import StackSettings

SLOT_QUERY = """
    SELECT slot_name, plugin, active, confirmed_flush_lsn::text, restart_lsn::text,
           pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint AS retained_bytes,
           pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint AS behind_bytes,
           coalesce(database::text, '') AS database, temporary, slot_type
    FROM pg_replication_slots ORDER BY slot_name
"""


def connector_slots(root: Path) -> set[str]:
    """The slots the registered connectors read (``slot.name`` in connectors/*.json): every
    other slot is someone else's."""
    return {
        str(c["config"]["slot.name"])
        for c in connect.load_connector_files(root / "connectors")
        if "slot.name" in c["config"]
    }


@dataclass
class Status:
    parts: list[dict[str, Any]] = field(default_factory=list)
    connectors: list[dict[str, Any]] = field(default_factory=list)
    slots: list[dict[str, Any]] = field(default_factory=list)
    consumer_health: dict[str, Any] = field(default_factory=dict)
    groups: list[dict[str, Any]] = field(default_factory=list)
    cluster: cluster.ClusterView = field(default_factory=cluster.ClusterView)
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return not self.problems


def replication_slots(settings: StackSettings, warn_bytes: int) -> list[dict[str, Any]]:
    where = f"{settings.postgres_host}:{settings.postgres_port}"
    try:
        with psycopg.connect(settings.admin_dsn(), connect_timeout=3) as conn:
            cur = conn.execute(SLOT_QUERY)
            names = [d.name for d in cur.description or ()]
            rows = [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
    except psycopg.OperationalError as exc:
        raise Unreachable("Postgres", where, str(exc).strip().splitlines()[0]) from exc
    for row in rows:
        row["warning"] = (row["retained_bytes"] or 0) > warn_bytes
    return rows


def collect(
    root: Path, settings: StackSettings, *, warn_bytes: int, compose: bool = False
) -> Status:
    status = Status()
    if compose:
        compose_status(root, status)
    else:
        native_status(Layout(root), settings, status)
    connectors_and_slots(root, settings, status, warn_bytes)
    consumers = next((p for p in status.parts if p["name"] == "consumers"), None)
    if consumers is not None and consumers["reason"] != "not running":
        probes(status, f"http://127.0.0.1:{settings.consumer_metrics_port}")
    group_states(status, settings)
    status.cluster = cluster.observe(settings, status.problems, status.warnings)
    return status


def compose_status(root: Path, status: Status) -> None:
    try:
        status.parts = compose_parts(root)
    except Unreachable as exc:
        status.problems.append(str(exc))
    status.problems += [f"{p['name']}: {p['reason']}" for p in status.parts if not p["healthy"]]


def native_status(layout: Layout, settings: StackSettings, status: Status) -> None:
    for part in stack_parts(layout, settings) + app_parts(layout, settings):
        pid = part.pid()
        reason = part.probe() if pid else "not running"
        optional = part in app_parts(layout, settings) and pid is None
        status.parts.append(
            {
                "name": part.name,
                "pid": pid,
                "where": part.where,
                "healthy": reason is None,
                "reason": reason,
            }
        )
        if reason is not None and not optional:
            status.problems.append(f"{part.name}: {reason}")


def connectors_and_slots(
    root: Path, settings: StackSettings, status: Status, warn_bytes: int
) -> None:
    try:
        for config in connect.load_connector_files(root / "connectors"):
            st = connect.status(settings.connect_rest(), config["name"])
            entry: dict[str, Any] = {"name": config["name"], "state": "NOT REGISTERED", "tasks": []}
            if st is not None:
                entry.update(
                    state=st.state,
                    tasks=[
                        {
                            "id": i,
                            "state": s,
                            "worker": _worker_name(settings, w),
                            **({"trace": t} if s == "FAILED" else {}),
                        }
                        for (i, s, t), w in zip(st.tasks, _workers(st), strict=True)
                    ],
                )
            status.connectors.append(entry)
            if st is None or not st.running:
                status.problems.append(f"connector {config['name']}: {entry['state']}")
    except (urllib.error.URLError, OSError) as exc:
        status.problems.append(f"Kafka Connect not reachable at {settings.connect_url}: {exc}")
    try:
        status.slots = replication_slots(settings, warn_bytes)
    except Unreachable as exc:
        status.problems.append(str(exc))
    expected = connector_slots(root)
    for slot in status.slots:
        slot["connector"] = slot["slot_name"] in expected
        if not slot["connector"]:
            status.problems.append(
                f"slot {slot['slot_name']} ({slot['slot_type']}, {slot['plugin'] or '-'}, "
                f"database {slot['database'] or '-'}) is not a connector's: its maker can "
                "decode every table through it; see docs/security.md"
            )
        if not slot["active"]:
            status.problems.append(f"slot {slot['slot_name']} is not active (no reader)")
        if slot["warning"]:
            status.warnings.append(
                f"slot {slot['slot_name']} retains {slot['retained_bytes']:,} bytes of WAL "
                f"(threshold {warn_bytes:,})"
            )


def _workers(st: connect.ConnectorStatus) -> tuple[str, ...]:
    return st.workers or ("",) * len(st.tasks)


def _worker_name(settings: StackSettings, worker_id: str) -> str:
    """``connect-2 (127.0.0.1:8283)`` for a worker of the topology, the id alone otherwise."""
    for w in settings.topology.workers:
        if worker_id == f"{w.host}:{w.port}":
            return f"{w.name} ({worker_id})"
    return worker_id


def group_states(status: Status, settings: StackSettings) -> None:
    """Each consumer group this deployment defines, as the broker sees it: Stable with members
    is the steady state; anything else while the consumers run is worth a warning."""
    from consumers.handlers import REGISTRY
    from ops.kafka_io import admin

    try:
        with admin(settings.kafka_as("admin")) as a:
            described = a.describe_groups(sorted(REGISTRY))
    except (Unreachable, Refused) as exc:
        status.problems.append(str(exc))
        return
    for group in sorted(REGISTRY):
        found = described.get(group) or {}
        state = found.get("group_state") or "Unknown"
        members = len(found.get("members") or [])
        status.groups.append({"group": group, "state": state, "members": members})
        if state != "Stable" or not members:
            status.warnings.append(f"group {group} is {state} with {members} member(s)")


def probes(status: Status, base: str) -> None:
    """The consumers' own liveness and readiness (their metrics port): a wedged poll loop is a
    problem; a group not ready (an outage waited out, a rebalance) a warning."""
    for probe in ("live", "ready"):
        try:
            with urllib.request.urlopen(f"{base}/health/{probe}", timeout=5) as r:  # noqa: S310
                status.consumer_health[probe] = json.loads(r.read())
        except urllib.error.HTTPError as exc:
            status.consumer_health[probe] = json.loads(exc.read() or b"{}") | {"ok": False}
        except (urllib.error.URLError, OSError, ValueError) as exc:
            status.consumer_health[probe] = {"ok": False, "error": str(exc)}
    live, ready = status.consumer_health["live"], status.consumer_health["ready"]
    if not live.get("ok"):
        status.problems.append(f"consumers not live: {live}")
    if not ready.get("ok"):
        status.warnings.append(f"consumers not ready: {ready}")
