"""The producer's migrations against a real Postgres, in a scratch database and as the app
role: every revision goes up and back down, and a revision that reshapes stored data keeps
what it reshapes."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest

from bench.scratch import scratch_database
from producer_app import migrate
from producer_app.settings import ProducerSettings
from stack.settings import StackSettings
from tests.conftest import ROOT


@pytest.fixture
def scratch(postgres_up: StackSettings) -> Iterator[ProducerSettings]:
    """A throwaway database with the ``orders`` schema owned by the app role, which migrates
    it as ``make db`` does; no revision applied yet."""
    name = f"shop_migrations_{uuid.uuid4().hex[:8]}"
    app = ProducerSettings(_env_file=ROOT / ".env")
    with scratch_database(postgres_up, name, postgres_up.app_db_user, "orders", lambda db: None):
        yield app.model_copy(update={"postgres_db": name})


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
