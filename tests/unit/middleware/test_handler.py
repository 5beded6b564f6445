"""The handler step: the per-event form with its context, or, when the applier chose the
batch form for the batch, the event collected for the one call at the end."""

from __future__ import annotations

from typing import Any

from consumer_runtime import Delivery, HandlerContext, Outcome, handler
from consumer_runtime.middleware.handler import call_handler
from consumers.events import OrderPlaced
from tests import factories
from tests.consumer_fakes import FakeDatabase, FakeTransaction, registered

calls: list[Any] = []


@handler("g", batch=lambda items: calls.append(("batch", len(items))))
def per_event(event: OrderPlaced, ctx: HandlerContext) -> None:
    calls.append(("event", ctx.group, ctx.message.offset))


def test_the_per_event_form_gets_the_event_and_its_context() -> None:
    calls.clear()
    message = factories.kafka_message(factories.placed_record(), offset=4)
    delivery = Delivery(message, "g", FakeTransaction(FakeDatabase()))
    delivery.event = object()
    assert call_handler(registered(per_event))(delivery) is Outcome.HANDLED
    assert calls == [("event", "g", 4)]


def test_in_a_batch_the_event_is_collected_not_handled() -> None:
    calls.clear()
    batch: list[Any] = []
    message = factories.kafka_message(factories.placed_record())
    delivery = Delivery(message, "g", FakeTransaction(FakeDatabase()), batch=batch)
    delivery.event = event = object()
    assert call_handler(registered(per_event))(delivery) is Outcome.HANDLED
    assert calls == []
    [(collected, ctx)] = batch
    assert collected is event
    assert ctx.message is message
