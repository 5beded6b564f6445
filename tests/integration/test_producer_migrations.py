"""The producer's migrations against a real Postgres, in a scratch database: every revision
goes up and back down, and a revision that reshapes stored data keeps what it reshapes."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest

from producer_app import migrate
from producer_app.settings import ProducerSettings
from stack.settings import StackSettings


@pytest.fixture
def scratch(postgres_up: StackSettings) -> Iterator[ProducerSettings]:
    """A throwaway database with the ``orders`` schema, migrated as the superuser (the app
    role's grants are the stack's business, not the migration's)."""
    name = f"migrations_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(postgres_up.admin_dsn(), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    settings = ProducerSettings(
        postgres_host=postgres_up.postgres_host,
        postgres_port=postgres_up.postgres_port,
        postgres_db=name,
        app_db_user=postgres_up.postgres_user,
        app_db_password=postgres_up.postgres_password,
    )
    with psycopg.connect(settings.conninfo(), autocommit=True) as conn:
        conn.execute("CREATE SCHEMA orders")
    yield settings
    with psycopg.connect(postgres_up.admin_dsn(), autocommit=True) as conn:
        conn.execute(f"DROP DATABASE {name} WITH (FORCE)")


def _sql(settings: ProducerSettings, query: str) -> list[tuple[object, ...]]:
    with psycopg.connect(settings.conninfo(), autocommit=True) as conn:
        cur = conn.execute(query)
        return cur.fetchall() if cur.description else []


@pytest.mark.integration
def test_every_revision_goes_up_and_down_again(scratch: ProducerSettings) -> None:
    migrate.upgrade(scratch)
    tables = {"outbox", "debezium_heartbeat", "orders", "order_lines", "idempotency_keys"}
    found = _sql(scratch, "SELECT tablename FROM pg_tables WHERE schemaname = 'orders'")
    assert tables <= {t for (t,) in found}
    migrate.downgrade(scratch, "base")
    found = _sql(scratch, "SELECT tablename FROM pg_tables WHERE schemaname = 'orders'")
    assert {t for (t,) in found} == {"alembic_version"}
    migrate.upgrade(scratch)


@pytest.mark.integration
def test_stored_replays_keep_their_meaning_across_0003_and_back(scratch: ProducerSettings) -> None:
    migrate.upgrade(scratch, "0002")
    _sql(
        scratch,
        """INSERT INTO orders.idempotency_keys
            (key, request_hash, status_code, response, created_at)
        VALUES ('p', 'h', 201, '{"id": "1"}', now()), ('c', 'h', 200, '{"id": "2"}', now()),
               ('open', 'h', NULL, NULL, now())""",
    )
    migrate.upgrade(scratch)
    changes = _sql(
        scratch, "SELECT key, change, response FROM orders.idempotency_keys ORDER BY key"
    )
    assert changes == [
        ("c", "cancelled", {"id": "2"}),
        ("open", None, None),
        ("p", "placed", {"id": "1"}),
    ]
    migrate.downgrade(scratch, "0002")
    statuses = _sql(scratch, "SELECT key, status_code FROM orders.idempotency_keys ORDER BY key")
    assert statuses == [("c", 200), ("open", None), ("p", 201)]
