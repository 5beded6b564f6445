"""``idempotent``: the mark and the effect in one savepoint; a duplicate skips the handler, a
failure leaves neither the effect nor the mark."""

from __future__ import annotations

from typing import Any

import pytest

from consumer_runtime import Delivery, Outcome, handler
from consumer_runtime.middleware.chain import Chain
from consumer_runtime.middleware.decode import decode
from consumer_runtime.middleware.handler import call_handler
from consumer_runtime.middleware.idempotent import idempotent
from consumers.events import OrderPlaced
from tests import factories
from tests.consumer_fakes import CODEC, FakeDatabase, FakeTransaction, registered

fail = [False]


@handler("g")
def effect(event: OrderPlaced, ctx: Any) -> None:
    ctx.connection.effects.append(event.event_id)
    if fail[0]:
        raise RuntimeError("after the effect")


def _step() -> Chain:
    registration = registered(effect)
    return Chain(call_handler(registration), [decode(CODEC, registration), idempotent])


def test_a_second_delivery_in_the_transaction_is_a_duplicate() -> None:
    fail[0] = False
    tx = FakeTransaction(FakeDatabase())
    message = factories.kafka_message(factories.placed_record())
    assert _step()(Delivery(message, "g", tx)) is Outcome.HANDLED
    assert _step()(Delivery(message, "g", tx)) is Outcome.DUPLICATE
    assert len(tx.effects) == 1


def test_a_failure_rolls_back_the_effect_and_the_mark() -> None:
    fail[0] = True
    tx = FakeTransaction(FakeDatabase())
    with pytest.raises(RuntimeError):
        _step()(Delivery(factories.kafka_message(factories.placed_record()), "g", tx))
    assert (tx.effects, tx.processed.staged) == ([], set())
