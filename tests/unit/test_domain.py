"""The Order aggregate's rules and the events it raises (pure, no I/O)."""

from __future__ import annotations

import uuid

import pytest

from producer_app.domain.events import OrderCancelled, OrderPlaced, event_id
from producer_app.domain.model import (
    MAX_LINES,
    InvalidOrder,
    OrderAlreadyCancelled,
    OrderLine,
    OrderStatus,
)
from tests import factories
from tests.factories import NOW


def test_placing_raises_order_placed_with_the_total() -> None:
    order = factories.order(lines=(OrderLine("SKU-1", 3, 250), OrderLine("SKU-2", 1, 1000)))
    assert order.status is OrderStatus.PLACED
    assert order.total_cents == 1750
    [event] = order.events
    assert isinstance(event, OrderPlaced)
    assert event.order_id == order.id
    assert event.total_cents == 1750
    assert [line.sku for line in event.lines] == ["SKU-1", "SKU-2"]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"lines": ()}, "lines"),
        ({"lines": tuple(OrderLine(f"S-{i}", 1, 1) for i in range(MAX_LINES + 1))}, "lines"),
        ({"lines": (OrderLine("SKU-1", 0, 100),)}, "lines[0].quantity"),
        ({"lines": (OrderLine("SKU-1", 1001, 100),)}, "lines[0].quantity"),
        ({"lines": (OrderLine("SKU-1", 1, 0),)}, "lines[0].unit_price_cents"),
        ({"lines": (OrderLine("SKU-1", 1, 10_000_001),)}, "lines[0].unit_price_cents"),
        ({"lines": (OrderLine("sku lower", 1, 100),)}, "lines[0].sku"),
        ({"lines": (OrderLine("A", 1, 1), OrderLine("A", 2, 1))}, "lines[1].sku"),
        ({"currency": "XXX"}, "currency"),
        ({"customer_id": ""}, "customer_id"),
        ({"sales_channel": "fax"}, "sales_channel"),
    ],
)
def test_invalid_orders_name_the_field(overrides: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidOrder) as err:
        factories.order(**overrides)
    assert err.value.field == field


def test_cancel_raises_order_cancelled_once() -> None:
    order = factories.order()
    order.events.clear()
    order.cancel(reason="changed my mind", now=NOW)
    assert order.status is OrderStatus.CANCELLED
    assert order.cancelled_at == NOW
    [event] = order.events
    assert isinstance(event, OrderCancelled)
    assert event.reason == "changed my mind"
    with pytest.raises(OrderAlreadyCancelled):
        order.cancel(reason="again", now=NOW)
    assert len(order.events) == 1


def test_cancel_needs_a_reason() -> None:
    order = factories.order()
    with pytest.raises(InvalidOrder, match="reason"):
        order.cancel(reason="  ", now=NOW)
    assert order.status is OrderStatus.PLACED


def test_events_are_frozen_facts_with_unique_ids() -> None:
    a, b = factories.order(), factories.order()
    assert a.events[0].event_id != b.events[0].event_id
    with pytest.raises(AttributeError):
        a.events[0].order_id = uuid.uuid4()  # type: ignore[misc]


def test_event_ids_are_derived_from_the_order_and_the_event_type() -> None:
    order = factories.order()
    order.cancel(reason="changed my mind", now=NOW)
    placed, cancelled = order.events
    assert placed.event_id == event_id(order.id, "OrderPlaced")
    assert cancelled.event_id == event_id(order.id, "OrderCancelled")
    assert placed.event_id != cancelled.event_id


def test_republishing_raises_the_same_events_again_and_changes_nothing() -> None:
    order = factories.order()
    order.cancel(reason="changed my mind", now=NOW)
    first, state = list(order.events), (order.status, order.cancelled_at, order.cancel_reason)
    order.events.clear()
    order.republish()
    assert order.events == first
    assert (order.status, order.cancelled_at, order.cancel_reason) == state


def test_republishing_an_order_still_placed_raises_only_its_placement() -> None:
    order = factories.order()
    [placed] = order.events
    order.events.clear()
    order.republish()
    assert order.events == [placed]
