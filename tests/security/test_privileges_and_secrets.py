"""Least privilege and secrets, checked against the running stack: the Debezium role reads the
outbox and nothing else and writes only its heartbeat; the app role cannot create replication
slots; no password shows up in Connect's REST API, in any log, or in a file git tracks."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import errors

from stack.rest import ConnectRest
from stack.secrets import SECRET_VARS
from stack.settings import StackSettings
from tests.conftest import ROOT
from tests.kafka_helpers import register_connector

pytestmark = pytest.mark.integration


def connect_as(settings: StackSettings, user: str, password: str) -> psycopg.Connection[Any]:
    return psycopg.connect(
        host=settings.postgres_host,
        port=settings.postgres_port,
        dbname=settings.postgres_db,
        user=user,
        password=password,
        autocommit=True,
    )


@pytest.mark.parametrize(
    "statement",
    [
        "SELECT count(*) FROM orders.orders",
        "SELECT count(*) FROM orders.order_lines",
        "SELECT count(*) FROM orders.idempotency_keys",
        "SELECT count(*) FROM consumers.processed_events",
        "INSERT INTO orders.outbox (id, aggregate_type, aggregate_id, event_type, payload) "
        "VALUES (gen_random_uuid(), 'order', 'x', 'Forged', '\\x00')",
        "DELETE FROM orders.outbox",
        "CREATE TABLE public.planted (id int)",
        "CREATE TABLE orders.planted (id int)",
    ],
)
def test_debezium_role_can_neither_read_orders_nor_write_anything(
    postgres_up: StackSettings, statement: str
) -> None:
    with (
        connect_as(
            postgres_up,
            postgres_up.debezium_db_user,
            postgres_up.need("debezium_db_password").get_secret_value(),
        ) as conn,
        pytest.raises(errors.InsufficientPrivilege),
    ):
        conn.execute(statement)


def test_debezium_role_has_exactly_what_cdc_needs(postgres_up: StackSettings) -> None:
    with connect_as(
        postgres_up,
        postgres_up.debezium_db_user,
        postgres_up.need("debezium_db_password").get_secret_value(),
    ) as conn:
        conn.execute("SELECT count(*) FROM orders.outbox")
        with conn.transaction():
            conn.execute("UPDATE orders.debezium_heartbeat SET beat_at = beat_at")
        row = conn.execute(
            "SELECT rolreplication, rolsuper, rolcreatedb, rolcreaterole "
            "FROM pg_roles WHERE rolname = current_user"
        ).fetchone()
    assert row == (True, False, False, False)


@pytest.mark.parametrize("role", ["app", "consumer"])
def test_app_roles_cannot_create_replication_slots(postgres_up: StackSettings, role: str) -> None:
    user, password = (
        (postgres_up.app_db_user, postgres_up.need("app_db_password"))
        if role == "app"
        else (postgres_up.consumer_db_user, postgres_up.need("consumer_db_password"))
    )
    with (
        connect_as(postgres_up, user, password.get_secret_value()) as conn,
        pytest.raises(errors.InsufficientPrivilege),
    ):
        conn.execute("SELECT pg_create_logical_replication_slot('stolen', 'pgoutput')")


def test_consumer_role_cannot_touch_the_orders_schema(postgres_up: StackSettings) -> None:
    with (
        connect_as(
            postgres_up,
            postgres_up.consumer_db_user,
            postgres_up.need("consumer_db_password").get_secret_value(),
        ) as conn,
        pytest.raises(errors.InsufficientPrivilege),
    ):
        conn.execute("SELECT count(*) FROM orders.orders")


def _secrets(settings: StackSettings) -> dict[str, str]:
    """Every generated secret (Postgres roles, Kafka principals, Connect's operator)."""
    return {name: settings.need(name.lower()).get_secret_value() for name in SECRET_VARS}


def test_connect_rest_api_shows_the_reference_not_the_password(
    connect_up: ConnectRest, stack_settings: StackSettings
) -> None:
    register_connector(connect_up)
    config = connect_up.call("/connectors/orders-outbox/config")
    assert isinstance(config, dict)
    assert config["database.password"] == "${env:DEBEZIUM_DB_PASSWORD}"
    everything = str(connect_up.call("/connectors?expand=info&expand=status"))
    for name, secret in _secrets(stack_settings).items():
        assert secret not in str(config), name
        assert secret not in everything, name


def test_no_password_in_any_log(stack_settings: StackSettings) -> None:
    logs = [p for p in (ROOT / ".stack").rglob("*.log") if p.is_file()]
    logs += [p for p in (ROOT / ".stack" / "pg").resolve().rglob("*.log") if p.is_file()]
    assert logs, "no logs found: is the native stack running from this checkout?"
    read = 0
    for path in logs:
        try:
            text = path.read_text(errors="replace")
        except FileNotFoundError:
            continue  # a segment of a topic Kafka deleted meanwhile: nothing left to leak
        read += 1
        for name, secret in _secrets(stack_settings).items():
            assert secret not in text, f"{name} appears in {path}"
    assert read, "every log vanished while being read"


def test_no_password_in_a_file_git_tracks(stack_settings: StackSettings) -> None:
    tracked = (
        subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True)
        .stdout.decode()
        .split("\0")
    )
    assert ".env" not in tracked
    for rel in filter(None, tracked):
        path = ROOT / rel
        if not path.is_file():
            continue
        text = Path(path).read_text(errors="replace")
        for name, secret in _secrets(stack_settings).items():
            assert secret not in text, f"{name} appears in tracked file {rel}"
