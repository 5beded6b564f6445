"""The README's "adding a handler" example, run as written: its migration creates the table,
its two handlers form the ``loyalty`` group, and with the README's middleware at the
processor level they apply a placed and a cancelled order from Kafka, each once."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from kafka import KafkaAdminClient

from consumer_runtime import Extras, group_registrations
from consumers.bootstrap import bootstrap
from consumers.events import EVENTS
from tests import factories, readme
from tests.db_roles import group_role
from tests.integration.conftest import Rig, run_until
from tests.kafka_helpers import grant

pytestmark = pytest.mark.integration


class _Op:
    """Alembic's ``op`` for the README's migration block: runs its SQL on a connection."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self._conn = conn

    def execute(self, statement: str) -> None:
        self._conn.execute(statement)


@pytest.fixture
def loyalty_table(admin_conn: psycopg.Connection[Any]) -> Iterator[None]:
    """The group's role first (``make up`` makes it from the registry), then the README's
    migration, which grants it its table."""
    admin_conn.execute("DROP TABLE IF EXISTS consumers.loyalty_points")
    with group_role("loyalty", like=None):
        readme.module("readme-migration", op=_Op(admin_conn)).upgrade()
        yield
        admin_conn.execute("DROP TABLE consumers.loyalty_points")


def test_the_readme_handler_applies_events_once(
    rig: Rig, loyalty_table: None, admin_conn: psycopg.Connection[Any]
) -> None:
    handlers = readme.module("readme-handler")
    [registration] = group_registrations(
        [handlers.award_points, handlers.take_points_back], EVENTS
    ).values()
    kept, gone = factories.placed_record(), factories.placed_record()
    messages = [factories.kafka_message(r) for r in (kept, gone)]
    cancel = factories.kafka_message(factories.cancelled_record(gone["order_id"]), "OrderCancelled")
    rig.event_ids += [kept["event_id"], gone["event_id"]]
    rig.produce([(0, m.key, m.value, list(m.headers)) for m in (*messages, cancel, messages[0])])
    # A new group is a new Kafka principal: `make up` grants the stack's; here, the test does.
    settings = rig.settings()
    grant(rig.bootstrap_servers, settings, "loyalty", rig.topic)
    running = bootstrap(
        settings,
        registration,
        extras=Extras(middleware=[readme.module("readme-middleware").timed]),
        kafka_group=f"loyalty.{rig.group}",
    )
    try:
        run_until(running.processor, lambda p: p.stats["handled"] + p.stats["duplicate"] >= 4)
    finally:
        running.close()
    assert (running.processor.stats["handled"], running.processor.stats["duplicate"]) == (3, 1)
    rows = admin_conn.execute("SELECT order_id, points FROM consumers.loyalty_points").fetchall()
    assert rows == [(kept["order_id"], int(kept["total"]))]
    admin = KafkaAdminClient(**rig.bootstrap_servers.client())
    admin.delete_topics(["dlq.loyalty"])
    admin.close()
    admin_conn.execute(
        "DELETE FROM consumers.processed_events WHERE consumer_group = 'loyalty'"
        " AND event_id = ANY(%s)",
        ([*rig.event_ids, uuid.UUID(cancel.header("id") or "")],),
    )
