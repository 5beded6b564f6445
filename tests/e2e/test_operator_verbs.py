"""The verbs people expect from kcat, Kafka UI and Debezium's tutorial, each through ``make``
against the native stack, as JSON and as a table that fits 80 columns: connector (pause,
resume, restart, status), groups, reset-offsets (a dry run that changes nothing, an applied
reset, the refusal while someone else runs the group, an offset past the end), acls, psql,
schemas (a version the running consumers do not know)."""

from __future__ import annotations

import json
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaAdminClient, KafkaConsumer

from consumers.handlers import REGISTRY
from consumers.settings import ConsumerSettings
from contract import SchemaRepository
from contract.kafka import KafkaAccess
from tests.conftest import ROOT
from tests.e2e.test_operator_fixes import make, until

pytestmark = pytest.mark.e2e


def as_json(*args: str) -> Any:
    done = make(*args, "JSON=1")
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout)


def fits(*args: str) -> str:
    """The verb's table: exit 0, no line past 80 columns."""
    done = make(*args)
    assert done.returncode == 0, done.stdout + done.stderr
    assert max(len(line) for line in done.stdout.splitlines()) <= 80, done.stdout
    return str(done.stdout)


def states(report: dict[str, Any]) -> set[str]:
    [connector] = report["connectors"]
    return {connector["state"], *(t["state"] for t in connector["tasks"])}


def test_connector_pause_resume_restart(apps_running: None) -> None:
    try:
        assert states(as_json("connector", "ACTION=pause")) == {"PAUSED"}
        assert states(as_json("connector")) == {"PAUSED"}
        assert "PAUSED" in fits("connector")
    finally:
        resumed = as_json("connector", "ACTION=resume")
    assert states(resumed) == {"RUNNING"}
    restarted = as_json("connector", "ACTION=restart")
    assert states(restarted) == {"RUNNING"}
    assert restarted["connectors"][0]["tasks"][0]["worker_id"]


def test_groups_show_members_assignments_and_lag(apps_running: None) -> None:
    def stable() -> list[dict[str, Any]] | None:
        found: list[dict[str, Any]] = as_json("groups", "GROUP=notifications")
        return found if found[0]["state"] == "Stable" and found[0]["members"] else None

    [group] = until(stable, 60, "notifications Stable")
    held = {p for m in group["members"] for p in m["partitions"]}
    assert held == {f"outbox.event.order[{p}]" for p in range(6)}
    for p in group["partitions"]:
        assert p["member"] is not None
        assert p["lag"] == p["end"] - p["committed"]
    everything = {g["group"] for g in as_json("groups")}
    assert set(REGISTRY) <= everything
    assert "notifications" in fits("groups")


def committed(access: KafkaAccess, group: str) -> dict[int, int]:
    admin = KafkaAdminClient(**access.client())
    try:
        offsets = admin.list_group_offsets(group).get(group, {})
    finally:
        admin.close()
    return {tp.partition: meta.offset for tp, meta in offsets.items()}


def test_reset_offsets_is_a_dry_run_until_applied(apps_running: None) -> None:
    settings = ConsumerSettings(_env_file=ROOT / ".env")
    access = settings.kafka_for("sales-projection")
    before = committed(access, "sales-projection")
    dry = as_json("reset-offsets", "GROUP=sales-projection", "TO=earliest")
    assert dry["applied"] is False
    assert all(p["target"] == p["begin"] for p in dry["partitions"])
    assert committed(access, "sales-projection") == before  # the consumers only move it on
    assert "dry run: nothing changed" in fits("reset-offsets", "GROUP=sales-projection", "TO=0")
    past = make("reset-offsets", "GROUP=sales-projection", "TO=999999999")
    assert past.returncode == 2
    assert "TO=999999999 is past the end" in past.stderr
    applied = as_json("reset-offsets", "GROUP=sales-projection", "TO=earliest", "APPLY=1")
    assert applied["applied"] is True
    assert {p["partition"]: p["target"] for p in applied["partitions"]} == {
        p["partition"]: p["begin"] for p in applied["partitions"]
    }
    until(  # the group reads it all again, as duplicates, and catches up
        lambda: (
            True if make("lag", "GROUP=sales-projection", "MAX_LAG=0").returncode == 0 else None
        ),
        300,
        "sales-projection caught up after the reset",
    )


def test_reset_offsets_refuses_while_someone_else_runs_the_group(apps_running: None) -> None:
    settings = ConsumerSettings(_env_file=ROOT / ".env")
    access = settings.kafka_for("inventory")
    other = KafkaConsumer(
        settings.topic,
        **access.client(),
        group_id="inventory",
        client_id=f"elsewhere-{uuid.uuid4().hex[:6]}",
        enable_auto_commit=False,
    )
    try:
        deadline = time.monotonic() + 60
        while not other.assignment() and time.monotonic() < deadline:
            other.poll(timeout_ms=500)
        before = committed(access, "inventory")
        done = make("reset-offsets", "GROUP=inventory", "TO=earliest", "APPLY=1")
        assert done.returncode == 2
        assert "live member(s) this command does not stop (elsewhere-" in done.stdout
        assert committed(access, "inventory") == before
    finally:
        other.close()


def test_acls_say_what_each_principal_may_do(apps_running: None) -> None:
    report = {p["principal"]: p for p in as_json("acls")}
    assert report["admin"]["super_user"]
    group = report["consumer-notifications"]
    assert group["login"]
    assert not group["super_user"]
    assert "READ" in group["may"]["topic outbox.event.order"]
    assert "WRITE" in group["may"]["topic dlq.notifications"]
    assert "WRITE" not in group["may"]["topic outbox.event.order"]
    assert "topic dlq.inventory" not in group["may"]
    assert "consumer-inventory" in fits("acls")


def test_psql_opens_the_database_as_a_role(apps_running: None) -> None:
    roles = {r["role"]: r for r in as_json("psql")}
    assert {"app", "consumer", "monitor", "postgres"} <= set(roles)
    done = make("psql", "ROLE=app", stdin="SELECT current_user, count(*) >= 0 FROM orders.orders")
    assert done.returncode == 0, done.stderr
    assert " app " in done.stdout
    refused = make("psql", "ROLE=monitor", stdin="SELECT count(*) FROM orders.orders")
    assert refused.returncode != 0  # least privilege holds in the shell too
    assert "permission denied" in refused.stderr


def test_schemas_show_what_the_running_consumers_know(apps_running: None, tmp_path: Path) -> None:
    report = as_json("schemas")
    assert report["consumers_answered"]
    shipped = {v.fingerprint_bytes.hex() for v in SchemaRepository.load()}
    assert {r["fingerprint"] for r in report["versions"]} == shipped
    assert all(r["unknown_to"] == [] for r in report["versions"])
    assert "OrderPlaced" in fits("schemas")
    # A version added since the consumers started: they do not know it until redeployed.
    newer = tmp_path / "schemas"
    shutil.copytree(ROOT / "schemas", newer)
    v3 = json.loads((newer / "order" / "OrderPlaced.v3.avsc").read_text())
    v3["fields"].append({"name": "gift_note", "type": "string", "default": ""})
    (newer / "order" / "OrderPlaced.v4.avsc").write_text(json.dumps(v3))
    done = make("schemas", "JSON=1", env={"SCHEMAS_DIR": str(newer)})
    rows = {(r["event_type"], r["version"]): r for r in json.loads(done.stdout)["versions"]}
    assert rows[("OrderPlaced", 4)]["unknown_to"] == sorted(REGISTRY)
    assert rows[("OrderPlaced", 4)]["producer_writes"]
