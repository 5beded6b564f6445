"""Issue 25, item 1: the Debezium role, as narrow as Postgres allows, and what it cannot narrow
made visible. The role has REPLICATION, which served a copy of the whole data directory
(``pg_basebackup``, every role's SCRAM verifier in ``global/1260``) and a slot of its own that
decodes every table. Now physical replication is refused in pg_hba.conf, the SQL slot
functions are not the role's to call, slots and senders are sized to the stack, and a slot
made through the replication protocol (which no Postgres setting can refuse to a REPLICATION
role) is listed by the exporter, reported by ``make status`` and fires an alert in the running
Prometheus."""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import errors

from contract.database import group_role, group_role_password
from ops.exporter import OpsCollector
from stack.settings import StackSettings
from tests.conftest import ROOT

pytestmark = pytest.mark.integration


def _as(settings: StackSettings, user: str, password: str, **kw: Any) -> psycopg.Connection[Any]:
    return psycopg.connect(
        host=settings.postgres_host,
        port=settings.postgres_port,
        dbname=kw.pop("dbname", settings.postgres_db),
        user=user,
        password=password,
        autocommit=True,
        **kw,
    )


def _debezium(settings: StackSettings) -> tuple[str, str]:
    return settings.debezium_db_user, settings.need("debezium_db_password").get_secret_value()


def test_physical_replication_is_refused(postgres_up: StackSettings, tmp_path: Path) -> None:
    user, password = _debezium(postgres_up)
    copy = subprocess.run(
        [
            "pg_basebackup",
            f"--host={postgres_up.postgres_host}",
            f"--port={postgres_up.postgres_port}",
            f"--username={user}",
            f"--pgdata={tmp_path / 'bb'}",
            "--wal-method=none",
            "--checkpoint=fast",
            "--no-password",
        ],
        env={**os.environ, "PGPASSWORD": password},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert copy.returncode != 0, "the Debezium role copied the data directory"
    assert "pg_hba.conf rejects replication connection" in copy.stderr
    assert not (tmp_path / "bb" / "global").exists()


def test_the_debezium_role_cannot_make_or_read_a_slot_through_sql(
    postgres_up: StackSettings, admin_conn: psycopg.Connection[Any]
) -> None:
    slot = f"sec_sql_{uuid.uuid4().hex[:8]}"
    try:
        with _as(postgres_up, *_debezium(postgres_up)) as conn:
            for call in (
                "SELECT pg_create_logical_replication_slot(%s, 'test_decoding')",
                "SELECT data FROM pg_logical_slot_get_changes(%s, NULL, NULL)",
                "SELECT data FROM pg_logical_slot_peek_changes(%s, NULL, NULL)",
            ):
                with pytest.raises(errors.InsufficientPrivilege):
                    conn.execute(call, (slot,))
    finally:  # on a stack that lets it, do not leave the slot behind
        admin_conn.execute(
            "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
            "WHERE slot_name = %s",
            (slot,),
        )


def _roles(settings: StackSettings) -> list[tuple[str, str]]:
    secret = settings.need("consumer_db_secret")
    return [
        (settings.app_db_user, settings.need("app_db_password").get_secret_value()),
        _debezium(settings),
        (settings.monitor_db_user, settings.need("monitor_db_password").get_secret_value()),
        (
            group_role("notifications"),
            group_role_password(secret, "notifications").get_secret_value(),
        ),
    ]


def test_no_role_can_have_debezium_publish_a_message_of_its_choosing(
    postgres_up: StackSettings,
) -> None:
    """pg_logical_emit_message wrote into the WAL, and Debezium published it to Kafka."""
    for user, password in _roles(postgres_up):
        with _as(postgres_up, user, password) as conn, pytest.raises(errors.InsufficientPrivilege):
            conn.execute("SELECT pg_logical_emit_message(true, 'forged', 'hello')")


def test_slots_and_senders_are_sized_to_the_stack(admin_conn: psycopg.Connection[Any]) -> None:
    slots = admin_conn.execute("SHOW max_replication_slots").fetchone()
    senders = admin_conn.execute("SHOW max_wal_senders").fetchone()
    assert (slots, senders) == (("2",), ("3",))


def _firing(settings: StackSettings, slot: str) -> bool:
    url = f"http://127.0.0.1:{settings.prometheus_port}/api/v1/alerts"
    with urllib.request.urlopen(url, timeout=5) as r:
        alerts = json.loads(r.read())["data"]["alerts"]
    return any(
        a["labels"].get("alertname") == "OutboxUnexpectedReplicationSlot"
        and a["labels"].get("slot") == slot
        and a["state"] == "firing"
        for a in alerts
    )


def test_a_slot_of_its_own_is_listed_reported_and_alerted(
    apps_running: None, stack_settings: StackSettings, admin_conn: psycopg.Connection[Any]
) -> None:
    """What Postgres cannot refuse a REPLICATION role: a slot made through the replication
    protocol, which could decode every table. It cannot stay unseen."""
    user, password = _debezium(stack_settings)
    slot = f"sec_proto_{uuid.uuid4().hex[:8]}"
    made = subprocess.run(
        [
            "psql",
            f"host={stack_settings.postgres_host} port={stack_settings.postgres_port} "
            f"dbname={stack_settings.postgres_db} user={user} replication=database",
            "-c",
            f"CREATE_REPLICATION_SLOT {slot} LOGICAL test_decoding",
        ],
        env={**os.environ, "PGPASSWORD": password},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert made.returncode == 0, made.stderr  # the residual risk, as README's Security says
    try:
        collector = OpsCollector(stack_settings.monitor_dsn(), stack_settings.kafka_as("monitor"))
        collector.refresh()
        [info] = [m for m in collector.collect() if m.name == "outbox_replication_slot_info"]
        listed = {s.labels["slot"]: s.labels for s in info.samples}
        assert listed[slot]["plugin"] == "test_decoding"
        assert "outbox_slot" in listed
        status = subprocess.run(
            [str(ROOT / ".venv/bin/python"), "-m", "ops", "status", "--json"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert status.returncode == 1
        problems = json.loads(status.stdout)["problems"]
        assert any(p.startswith(f"slot {slot} (logical, test_decoding") for p in problems)
        deadline = time.monotonic() + 90  # exporter 5 s, scrape and rule evaluation 10 s each
        while not _firing(stack_settings, slot):
            assert time.monotonic() < deadline, "OutboxUnexpectedReplicationSlot did not fire"
            time.sleep(2)
    finally:
        admin_conn.execute("SELECT pg_drop_replication_slot(%s)", (slot,))
