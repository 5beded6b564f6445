"""The handler test kit against the real database: a handler fed a list of events with no
Kafka, every event delivered twice, a crash between the database and the offset commit, a
failing event collected as a dead letter with its mark written, and the clean-batch path the
shipped handlers run on."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from consumer_runtime import HandlerContext, RuntimeOptions, handler
from consumer_runtime.clean import CleanBatch
from consumer_runtime.testkit import Harness
from consumers.events import Line, OrderCancelled, OrderPlaced
from consumers.handlers import REGISTRY
from tests.consumer_fakes import registered
from tests.db_roles import group_role

pytestmark = pytest.mark.integration
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def placed() -> OrderPlaced:
    lines = (Line("SKU-0001", 2, Decimal("9.99")),)
    return OrderPlaced(
        uuid.uuid4(), uuid.uuid4(), "kit", "EUR", lines, Decimal("19.98"), NOW, "web"
    )


@pytest.fixture
def notifications(
    handler_harness: Callable[..., Harness], admin_conn: psycopg.Connection[Any]
) -> Iterator[Harness]:
    group = f"kit-notifications-{uuid.uuid4().hex[:8]}"
    with group_role(group):  # `make up` makes a group's role; a test's own group, the test
        yield handler_harness(dataclasses.replace(REGISTRY["notifications"], name=group))
        admin_conn.execute("DELETE FROM consumers.notifications WHERE customer_id = 'kit'")
        admin_conn.execute(
            "DELETE FROM consumers.processed_events WHERE consumer_group = %s", (group,)
        )


def _rows(admin_conn: psycopg.Connection[Any], *events: Any) -> int:
    ids = [e.event_id for e in events]
    row = admin_conn.execute(
        "SELECT count(*) FROM consumers.notifications WHERE event_id = ANY(%s)", (ids,)
    ).fetchone()
    return int(row[0]) if row else 0


def test_every_event_delivered_twice_has_one_effect(
    notifications: Harness, admin_conn: psycopg.Connection[Any]
) -> None:
    order = placed()
    cancelled = OrderCancelled(uuid.uuid4(), order.order_id, "kit", "changed my mind", NOW)
    outcomes = notifications.deliver([order, cancelled], twice=True)
    assert outcomes == {"handled": 2, "duplicate": 2}
    assert _rows(admin_conn, order, cancelled) == 2


def test_a_crash_between_the_commits_redelivers_the_batch_as_duplicates(
    notifications: Harness, admin_conn: psycopg.Connection[Any]
) -> None:
    events = [placed() for _ in range(5)]
    first, again = notifications.crash_between_commits(events)
    assert (first, again) == ({"handled": 5}, {"duplicate": 5})
    assert _rows(admin_conn, *events) == 5


def test_a_failing_event_is_dead_lettered_once_and_marked(
    handler_harness: Callable[..., Harness], admin_conn: psycopg.Connection[Any]
) -> None:
    group = f"kit-failing-{uuid.uuid4().hex[:8]}"
    bad = placed()

    @handler(group)
    def refuse(event: OrderPlaced, ctx: HandlerContext) -> None:
        if event.event_id == bad.event_id:
            raise RuntimeError("mailer down")

    with group_role(group):
        options = RuntimeOptions(attempts=2)
        _dead_lettered_once(handler_harness(registered(refuse), options), bad, admin_conn, group)


def _dead_lettered_once(
    harness: Harness, bad: OrderPlaced, admin_conn: psycopg.Connection[Any], group: str
) -> None:
    try:
        first, again = harness.crash_between_commits([placed(), bad])
        assert first == {"handled": 1, "dead_lettered": 1}
        assert again == {"duplicate": 2}  # the dead letter's mark makes it a duplicate too
        [(message, reason)] = harness.dead_letters.sent
        assert "mailer down" in reason
        assert message.header("id") == str(bad.event_id)
    finally:
        admin_conn.execute(
            "DELETE FROM consumers.processed_events WHERE consumer_group = %s", (group,)
        )


def test_the_kit_runs_the_clean_batch_path_the_shipped_handlers_take(
    notifications: Harness, admin_conn: psycopg.Connection[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The kit builds through ``build_runtime``, as the processor does: a handler with a batch
    form takes the clean path there too (the kit used to build the chain alone)."""
    runs: list[int] = []
    run = CleanBatch.run

    def counted(self: CleanBatch, messages: Any, raw: Any) -> Any:
        runs.append(len(messages))
        return run(self, messages, raw)

    monkeypatch.setattr(CleanBatch, "run", counted)
    events = [placed() for _ in range(3)]
    assert notifications.runtime.clean_path.on
    assert notifications.deliver(events) == {"handled": 3}
    assert runs == [3]
    assert _rows(admin_conn, *events) == 3
