"""A handler's batch form must leave the database exactly as its per-event form does.

Random histories of a few orders (placed, cancelled, cancelled before placed, cancelled twice,
interleaved across orders) go through the test kit's ``compare_forms``: one event at a time in
one transaction, and through the batch form in random consecutive batches (a later batch meets
the rows of an earlier one), pipelined as the optimistic batch runs it, in another; both are
read back and rolled back. The days are far in
the past and unique to the run, so no other row is touched or compared."""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from chaos import observe
from consumer_runtime.testkit import compare_forms
from consumers.events import Event, OrderCancelled, OrderPlaced, from_record
from consumers.handlers import REGISTRY
from consumers.settings import ConsumerSettings
from tests import factories
from tests.conftest import ROOT

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module", autouse=True)
def pipeline_quiet(postgres_up: Any) -> None:
    """Debezium confirmed the WAL written so far, and a moment for running consumers to
    apply it: the comparison reads the stock, which the real inventory group also writes when
    it runs (``make up`` before ``make test``), and an order placed by the test before this
    one (test_api_metrics) was still being applied when the first case read it."""
    dsn, deadline = postgres_up.admin_dsn(), time.monotonic() + 120
    lsn = observe.wal_head(dsn)
    while observe.slot_behind(dsn, lsn) > 0 and time.monotonic() < deadline:
        time.sleep(0.5)
    time.sleep(3)


READ_BACK = {
    "notifications": [
        "SELECT event_id, order_id, customer_id, kind, body FROM consumers.notifications "
        "WHERE order_id = ANY(%(orders)s) ORDER BY event_id"
    ],
    "inventory": [
        # updated_at is now() of each run's own transaction: not part of the effect
        "SELECT order_id, status, lines, reason FROM consumers.reservations "
        "WHERE order_id = ANY(%(orders)s) ORDER BY order_id",
        "SELECT sku, reserved FROM consumers.stock ORDER BY sku",
    ],
    "sales-projection": [
        "SELECT order_id, day, currency, status, lines FROM consumers.sales_orders "
        "WHERE order_id = ANY(%(orders)s) ORDER BY order_id",
        "SELECT day, sku, currency, units, revenue_cents FROM consumers.sales_daily "
        "WHERE day = ANY(%(days)s) ORDER BY day, sku, currency",
    ],
}


# SKU-0040 is made scarce in each run (``scarce``): some orders are rejected, and
# whether one is depends on what the orders before it reserved.
SKUS = ["SKU-0001", "SKU-0002", "SKU-0003", "SKU-0040"]


def history(rng: random.Random, day: datetime, orders: int = 8) -> list[Event]:
    """Per order one of the shapes a topic can hold; orders interleaved, each in its order."""
    per_order: list[list[Event]] = []
    for _ in range(orders):
        oid = uuid.uuid4()
        lines = [
            {"sku": sku, "quantity": rng.randint(1, 5), "unit_price": Decimal(rng.randint(1, 999))}
            for sku in rng.sample(SKUS, rng.randint(1, 3))
        ]
        placed = from_record(
            "OrderPlaced",
            factories.placed_record(
                oid,
                lines=lines,
                currency=rng.choice(["EUR", "USD"]),
                placed_at=day + timedelta(days=rng.randint(0, 2)),
            ),
        )

        def cancelled(oid: uuid.UUID = oid) -> Event:
            return from_record("OrderCancelled", factories.cancelled_record(oid))

        shape = rng.choice(["placed", "placed,cancel", "cancel,placed", "cancel", "placed,2cancel"])
        per_order.append(
            {
                "placed": [placed],
                "placed,cancel": [placed, cancelled()],
                "cancel,placed": [cancelled(), placed],
                "cancel": [cancelled()],
                "placed,2cancel": [placed, cancelled(), cancelled()],
            }[shape]
        )
    out: list[Event] = []
    while any(per_order):
        out.append(rng.choice([q for q in per_order if q]).pop(0))
    return out


def scarce(conn: Any) -> None:
    conn.execute("UPDATE consumers.stock SET reserved = on_hand - 6 WHERE sku = 'SKU-0040'")


def read_back(conn: Any, name: str, events: Sequence[Event]) -> list[list[tuple[Any, ...]]]:
    params = {
        "orders": sorted({e.order_id for e in events}),
        "days": sorted({e.placed_at.date() for e in events if isinstance(e, OrderPlaced)}),
    }
    return [conn.execute(q, params).fetchall() for q in READ_BACK[name]]


@pytest.mark.parametrize("name", sorted(READ_BACK))
@pytest.mark.parametrize("seed", range(6))
def test_the_batch_form_has_the_per_event_effect(postgres_up: Any, name: str, seed: int) -> None:
    registration = REGISTRY[name]
    assert registration.handle_batch is not None
    rng = random.Random(seed)
    day = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(days=rng.randint(0, 20_000))
    events = history(rng, day)
    conninfo = ConsumerSettings(_env_file=ROOT / ".env").conninfo(name)  # the group's own role
    one_by_one, batched = compare_forms(
        conninfo,
        registration,
        events,
        lambda conn: read_back(conn, name, events),
        rng=rng,
        setup=scarce if name == "inventory" else None,  # stock is inventory's alone
    )
    assert any(one_by_one), "the history left no rows: nothing was compared"
    if name != "notifications":  # the shapes that matter did occur
        statuses = {row[3 if name == "sales-projection" else 1] for row in one_by_one[0]}
        assert statuses & {"reversed", "released", "cancelled_first"}, statuses
        # A place that arrives after its cancel settles the mark the cancel left.
        placed = {e.order_id for e in events if isinstance(e, OrderPlaced)}
        status = 3 if name == "sales-projection" else 1
        marks = [r[0] for r in one_by_one[0] if r[0] in placed and r[status] == "cancelled_first"]
        assert marks == [], "a late place left its cancel's mark"
    assert batched == one_by_one
    assert any(isinstance(e, OrderCancelled) for e in events)
