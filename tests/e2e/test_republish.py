"""``make republish`` on the running pipeline: every order's events written again from the
orders table reach every group as duplicates (nothing changes), and a group that reads only
the re-published events (rebuilt from the time the re-publish started, as if Kafka had
dropped everything before) ends with the read model the original group built."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from datetime import datetime
from typing import Any

import psycopg
import pytest

from contract.kafka_reads import end_offsets
from ops.lag import group_lag
from stack.settings import StackSettings
from tests.conftest import ROOT
from tests.kafka_helpers import caught_up

pytestmark = pytest.mark.e2e

TOPIC = "outbox.event.order"
# What each group's tables say, in terms the order of events cannot change.
READ_MODELS = {
    "sales-projection": (
        "SELECT day, sku, currency, units, revenue_cents FROM consumers.sales_daily "
        "WHERE units <> 0 OR revenue_cents <> 0 ORDER BY 1, 2, 3",
        "SELECT order_id FROM consumers.sales_orders WHERE status = 'counted' ORDER BY 1",
    ),
    "notifications": ("SELECT event_id, order_id, kind FROM consumers.notifications ORDER BY 1",),
    "inventory": (
        "SELECT order_id, status FROM consumers.reservations ORDER BY 1",
        "SELECT sku, on_hand, reserved FROM consumers.stock ORDER BY 1",
    ),
}


def snapshot(conn: psycopg.Connection[Any]) -> dict[str, list[list[tuple[Any, ...]]]]:
    return {g: [conn.execute(q).fetchall() for q in qs] for g, qs in READ_MODELS.items()}


def marks(conn: psycopg.Connection[Any]) -> dict[str, int]:
    rows = conn.execute(
        "SELECT consumer_group, count(*) FROM consumers.processed_events GROUP BY 1"
    ).fetchall()
    return {g: n for g, n in rows if g in READ_MODELS}


def run(*command: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", *command], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    return done.stdout


def published(settings: StackSettings, before: dict[int, int], events: int) -> None:
    """Wait until Debezium has put ``events`` more messages on the topic."""
    deadline = time.monotonic() + 180
    while True:
        now = end_offsets(settings.kafka_as("admin"), TOPIC, wait=60)
        if sum(now.values()) - sum(before.values()) >= events:
            return
        assert time.monotonic() < deadline, "Debezium did not publish the re-published events"
        time.sleep(1)


def test_republish_is_a_duplicate_for_every_group_and_the_whole_history_for_a_new_one(
    apps_running: None,
    seeding: None,
    stack_settings: StackSettings,
    admin_conn: psycopg.Connection[Any],
) -> None:
    run("producer_app", "seed", "--orders", "300", "--cancel-ratio", "0.2")
    caught_up(stack_settings)
    before, marked = snapshot(admin_conn), marks(admin_conn)
    assert before["sales-projection"][1], "the seed should have counted orders"
    offsets = end_offsets(stack_settings.kafka_as("admin"), TOPIC, wait=60)

    said = run("producer_app", "republish", "--all")
    found = re.search(r"republish (\d+) orders, (\d+) events .* SINCE=(\S+)", said)
    assert found, said
    orders, events, since = int(found[1]), int(found[2]), found[3]
    derived, cancelled, legacy = admin_conn.execute(
        "SELECT count(*) FILTER (WHERE event_ids_derived), "
        "count(*) FILTER (WHERE event_ids_derived AND status = 'cancelled'), "
        "count(*) FILTER (WHERE NOT event_ids_derived) FROM orders.orders"
    ).fetchone() or (0, 0, 0)
    assert (orders, events) == (derived, derived + cancelled)
    assert (f"skipped {legacy} orders placed before" in said) == (legacy > 0), said
    published(stack_settings, offsets, events)
    caught_up(stack_settings)
    assert snapshot(admin_conn) == before, "a re-published event was applied twice"
    assert marks(admin_conn) == marked, "every re-published event was a duplicate"

    if legacy:
        pytest.skip(f"{legacy} orders from before migration 0004 cannot be re-published")
    # A group that reads nothing but the re-published stretch: the history beyond Kafka's
    # retention, as a new group would get it.
    rebuilt = run("ops", "rebuild", "sales-projection", "--since", since, "--wait", "300")
    assert f"{events} events to apply again" in " ".join(rebuilt.split()), rebuilt
    assert "rebuilt and caught up" in rebuilt
    assert snapshot(admin_conn)["sales-projection"] == before["sales-projection"]
    assert not any(r.lag for r in group_lag(stack_settings.kafka_as("admin"), sorted(READ_MODELS)))
    assert datetime.fromisoformat(since).tzinfo is not None
