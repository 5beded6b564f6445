"""Typed handlers: the decorator reads the event types off the annotation, a group may hold
one handler per event type, each handler's middleware wraps only its own events, and the
README's example handler and middleware work as shown."""

from __future__ import annotations

import sys
import uuid
from typing import Any

import pytest

from consumer_runtime import Delivery, HandlerContext, Middleware, Outcome, Step
from consumer_runtime.handlers import discover, group_registrations, handler
from consumers.events import EVENTS, Event, OrderCancelled, OrderPlaced
from tests import factories, readme
from tests.consumer_fakes import FakeDatabase, FakeTransaction, chain_for


def test_event_types_come_from_the_annotation() -> None:
    @handler("g1")
    def one(event: OrderPlaced, ctx: HandlerContext) -> None: ...

    @handler("g2")
    def both(event: OrderPlaced | OrderCancelled, ctx: HandlerContext) -> None: ...

    @handler("g3")
    def alias(event: Event, ctx: HandlerContext) -> None: ...

    assert one.event_types == (OrderPlaced,)
    assert set(both.event_types) == set(alias.event_types) == {OrderPlaced, OrderCancelled}


def test_an_unannotated_or_non_event_parameter_is_refused() -> None:
    with pytest.raises(TypeError, match="annotate the event parameter"):

        @handler("g")
        def bare(event, ctx):  # type: ignore[no-untyped-def]
            ...

    @handler("g")
    def wrong(event: str, ctx: HandlerContext) -> None: ...

    with pytest.raises(TypeError, match=r"wrong: \[<class 'str'>\] are not events"):
        group_registrations([wrong], EVENTS)


def _deliver(registration: Any, record: dict[str, Any], event_type: str) -> FakeTransaction:
    chain = chain_for(registration, attempts=1)
    tx = FakeTransaction(FakeDatabase())
    message = factories.kafka_message(record, event_type)
    assert chain(Delivery(message, registration.name, tx)) is Outcome.HANDLED
    return tx


def test_a_group_dispatches_each_event_type_to_its_handler_and_middleware() -> None:
    calls: list[str] = []

    def tag(name: str) -> Middleware:
        def middleware(step: Step) -> Step:
            def run(d: Delivery) -> Outcome:
                calls.append(name)
                return step(d)

            return run

        return middleware

    @handler("g", middleware=[tag("placed-mw")])
    def placed(event: OrderPlaced, ctx: HandlerContext) -> None:
        calls.append("placed")

    @handler("g")
    def cancelled(event: OrderCancelled, ctx: HandlerContext) -> None:
        calls.append("cancelled")

    [(name, registration)] = group_registrations([placed, cancelled], EVENTS).items()
    assert name == "g"
    assert registration.event_types == {"OrderPlaced", "OrderCancelled"}
    _deliver(registration, factories.placed_record(), "OrderPlaced")
    _deliver(registration, factories.cancelled_record(uuid.uuid4()), "OrderCancelled")
    assert calls == ["placed-mw", "placed", "cancelled"]  # its middleware: its events only


def test_two_handlers_for_one_type_or_a_batch_form_in_a_shared_group_are_refused() -> None:
    @handler("g")
    def a(event: OrderPlaced, ctx: HandlerContext) -> None: ...

    @handler("g")
    def b(event: OrderPlaced | OrderCancelled, ctx: HandlerContext) -> None: ...

    @handler("g", batch=lambda items: None)
    def c(event: OrderCancelled, ctx: HandlerContext) -> None: ...

    with pytest.raises(TypeError, match="two handlers for OrderPlaced"):
        group_registrations([a, b], EVENTS)
    with pytest.raises(TypeError, match="batch form needs the group's only handler"):
        group_registrations([a, c], EVENTS)


def test_the_handlers_package_registers_the_three_groups() -> None:
    registrations = group_registrations(discover("consumers.handlers"), EVENTS)
    assert set(registrations) == {"inventory", "notifications", "sales-projection"}
    assert all(r.handle_batch is not None for r in registrations.values())


def test_the_readme_handler_and_middleware_work_as_shown(
    capsys: pytest.CaptureFixture[str],
) -> None:
    handlers = readme.module("readme-handler")
    timed = readme.module("readme-middleware").timed
    [registration] = group_registrations(
        [handlers.award_points, handlers.take_points_back], EVENTS
    ).values()
    assert registration.name == "loyalty"
    record = factories.placed_record()
    chain = chain_for(registration, attempts=1, middleware=[timed])
    sql: list[tuple[str, Any]] = []
    tx = FakeTransaction(FakeDatabase())
    tx.connection = type("Conn", (), {"execute": lambda self, q, p: sql.append((q, p))})()
    outcome = chain(Delivery(factories.kafka_message(record), "loyalty", tx))
    assert outcome is Outcome.HANDLED
    [(query, params)] = sql
    assert query.startswith("INSERT INTO consumers.loyalty_points")
    assert params == (record["order_id"], record["customer_id"], int(record["total"]))
    assert capsys.readouterr().out.startswith("loyalty OrderPlaced handled ")
    assert "timed" in chain.layers
    sys.modules.pop("readme_readme_handler", None)
