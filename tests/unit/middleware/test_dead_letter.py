"""``dead_letter``: what keeps failing is sent once, with its mark in processed_events, and
the group moves on; what is not the message's fault (an outage) passes through, never sent."""

from __future__ import annotations

import pytest

from consumer_runtime import HandlerContext, Outcome, handler
from consumer_runtime.errors import Outage
from consumer_runtime.middleware.dead_letter import position_id
from consumers.events import OrderPlaced
from tests import factories
from tests.consumer_fakes import FakeDatabase, FakeTransaction, RecordingSink, chain_for, deliver


@handler("g")
def refuses(event: OrderPlaced, ctx: HandlerContext) -> None:
    raise ValueError("no such sku")


@handler("g")
def db_gone(event: OrderPlaced, ctx: HandlerContext) -> None:
    raise Outage("postgres: connection refused")


def test_an_outage_is_never_dead_lettered() -> None:
    sink = RecordingSink()
    with pytest.raises(Outage):
        deliver(chain_for(db_gone, sink), factories.kafka_message(factories.placed_record()))
    assert sink.sent == []


def test_a_dead_letter_is_marked_so_a_redelivery_sends_nothing_twice() -> None:
    sink, db = RecordingSink(), FakeDatabase()
    record = factories.placed_record()
    message = factories.kafka_message(record)
    tx = FakeTransaction(db)
    assert deliver(chain_for(refuses, sink), message, tx) is Outcome.DEAD_LETTERED
    assert tx.processed.dead == {("g", record["event_id"])}
    db.processed |= tx.processed.staged  # committed with the batch
    again = deliver(chain_for(refuses, sink), message, FakeTransaction(db))
    assert again is Outcome.DUPLICATE
    assert len(sink.sent) == 1


def test_an_undecodable_message_is_marked_by_its_position() -> None:
    sink = RecordingSink()
    garbage = factories.kafka_message(factories.placed_record())
    garbage = type(garbage)("t", 2, 9, b"k", b"garbage", ())
    tx = FakeTransaction(FakeDatabase())
    assert deliver(chain_for(refuses, sink), garbage, tx) is Outcome.DEAD_LETTERED
    assert tx.processed.dead == {("g", position_id(garbage))}
