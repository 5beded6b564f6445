"""``duplicator``: runs the rest twice, outside ``idempotent``, so the second run must be
absorbed; and it is only proof because it catches a handler that is not wrapped."""

from __future__ import annotations

from typing import Any

from consumer_runtime import Delivery, HandlerContext, Outcome, handler
from consumer_runtime.middleware.chain import Chain
from consumer_runtime.middleware.decode import decode
from consumer_runtime.middleware.duplicator import duplicator
from consumer_runtime.middleware.handler import call_handler
from consumers.events import OrderPlaced
from tests import factories
from tests.consumer_fakes import CODEC, FakeDatabase, FakeTransaction, chain_for, registered

effects: list[Any] = []


@handler("g")
def effect(event: OrderPlaced, ctx: HandlerContext) -> None:
    effects.append(event.event_id)


def test_duplicator_runs_twice_and_idempotency_absorbs_the_second() -> None:
    effects.clear()
    tx = FakeTransaction(FakeDatabase())
    delivery = Delivery(factories.kafka_message(factories.placed_record()), "g", tx)
    assert chain_for(effect, duplicate=True)(delivery) is Outcome.HANDLED
    assert delivery.notes["duplicate_outcome"] is Outcome.DUPLICATE
    assert len(effects) == 1


def test_without_idempotency_the_duplicator_would_show_a_double_effect() -> None:
    effects.clear()
    registration = registered(effect)
    step = Chain(call_handler(registration), [decode(CODEC, registration), duplicator])
    message = factories.kafka_message(factories.placed_record())
    step(Delivery(message, "g", FakeTransaction(FakeDatabase())))
    assert len(effects) == 2
