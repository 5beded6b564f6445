"""Issue 25, item 5: the three groups shared one Postgres role that could write every
group's tables and every group's dedup marks, so a bug or a compromise in one handler could
corrupt another's read model or mark its events handled; every role could connect to the
``postgres`` and ``template1`` databases. Now each group is a role of its own, with its own
tables and, through a row-level policy, only its own rows of ``processed_events``, and no
role but the superuser connects where it has no business. (That each process holds only its
own secrets, also when started by hand, is ``test_own_secrets_only.py``.)"""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
import pytest
from psycopg import errors
from pydantic import SecretStr

from consumers.settings import ConsumerSettings
from contract.database import group_role, group_role_password
from stack.settings import StackSettings
from tests.conftest import ROOT

pytestmark = pytest.mark.integration

TABLES = {
    "notifications": ("notifications",),
    "sales-projection": ("sales_orders", "sales_daily"),
    "inventory": ("stock", "reservations"),
}
WRITES = {
    "notifications": "DELETE FROM consumers.notifications",
    "sales_orders": "DELETE FROM consumers.sales_orders",
    "sales_daily": "UPDATE consumers.sales_daily SET units = 0",
    "stock": "UPDATE consumers.stock SET reserved = 0",
    "reservations": "DELETE FROM consumers.reservations",
}


def _as_group(group: str) -> psycopg.Connection[Any]:
    return psycopg.connect(ConsumerSettings(_env_file=ROOT / ".env").conninfo(group))


@pytest.mark.parametrize(
    ("group", "table"),
    [(g, t) for g in TABLES for other, ts in TABLES.items() if other != g for t in ts],
)
def test_a_group_cannot_write_another_groups_read_model(
    postgres_up: StackSettings, group: str, table: str
) -> None:
    with _as_group(group) as conn, pytest.raises(errors.InsufficientPrivilege):
        conn.execute(WRITES[table])  # rolled back anyway: the connection never commits


@pytest.mark.parametrize("group", sorted(TABLES))
def test_a_group_writes_its_own_read_model(postgres_up: StackSettings, group: str) -> None:
    with _as_group(group) as conn:
        for table in TABLES[group]:
            conn.execute(WRITES[table])
        conn.rollback()


def _marks(admin: psycopg.Connection[Any], group: str) -> int:
    row = admin.execute(
        "SELECT count(*) FROM consumers.processed_events WHERE consumer_group = %s", (group,)
    ).fetchone()
    return int(row[0]) if row else 0


@pytest.mark.parametrize("group", sorted(TABLES))
def test_a_group_sees_and_writes_only_its_own_dedup_marks(
    admin_conn: psycopg.Connection[Any], group: str
) -> None:
    others = [g for g in TABLES if g != group]
    assert all(_marks(admin_conn, g) for g in TABLES), "no marks yet: seed some orders first"
    with _as_group(group) as conn:
        seen = conn.execute(
            "SELECT DISTINCT consumer_group FROM consumers.processed_events"
        ).fetchall()
        assert seen == [(group,)]
        for other in others:
            gone = conn.execute(
                "DELETE FROM consumers.processed_events WHERE consumer_group = %s", (other,)
            )
            assert gone.rowcount == 0
            with pytest.raises(errors.InsufficientPrivilege), conn.transaction():
                conn.execute(
                    "INSERT INTO consumers.processed_events (consumer_group, event_id, source) "
                    "VALUES (%s, %s, 'forged')",
                    (other, uuid.uuid4()),
                )
        with pytest.raises(errors.InsufficientPrivilege), conn.transaction():
            conn.execute("TRUNCATE consumers.processed_events")  # no row policy applies
        conn.rollback()
    assert all(_marks(admin_conn, g) for g in others)


def _roles(settings: StackSettings) -> list[tuple[str, SecretStr]]:
    """Every login role but the superuser, with its password."""
    secret = settings.need("consumer_db_secret")
    return [
        (settings.app_db_user, settings.need("app_db_password")),
        (settings.consumer_db_user, settings.need("consumer_db_password")),
        (settings.debezium_db_user, settings.need("debezium_db_password")),
        (settings.monitor_db_user, settings.need("monitor_db_password")),
        *((group_role(g), group_role_password(secret, g)) for g in TABLES),
    ]


@pytest.mark.parametrize("database", ["postgres", "template1"])
def test_no_role_connects_to_a_database_it_does_not_use(
    postgres_up: StackSettings, database: str
) -> None:
    for user, password in _roles(postgres_up):
        with pytest.raises(psycopg.OperationalError, match="CONNECT privilege"):
            psycopg.connect(postgres_up.conninfo_for(user, password, database))
        # ... while it still reaches its own
        psycopg.connect(postgres_up.conninfo_for(user, password)).close()
