"""``only``: a selection (a dead-letter replay of chosen ids) lets in only what it accepts;
the rest is ignored before anything else runs."""

from __future__ import annotations

from typing import Any

from consumer_runtime import HandlerContext, Outcome, handler
from consumers.events import OrderPlaced
from contract import headers as h
from tests import factories
from tests.consumer_fakes import RecordingSink, chain_for, deliver

seen: list[Any] = []


@handler("g")
def record(event: OrderPlaced, ctx: HandlerContext) -> None:
    seen.append(event.event_id)


def test_only_the_selected_messages_reach_the_handler() -> None:
    chosen, other = factories.placed_record(), factories.placed_record()
    wanted = {str(chosen["event_id"])}
    sink = RecordingSink()
    chain = chain_for(record, sink, select=lambda m: m.header(h.EVENT_ID) in wanted)
    assert deliver(chain, factories.kafka_message(chosen)) is Outcome.HANDLED
    assert deliver(chain, factories.kafka_message(other)) is Outcome.IGNORED
    garbage = type(factories.kafka_message(other))("t", 0, 3, None, b"junk", ())
    assert deliver(chain, garbage) is Outcome.IGNORED  # not even decoded: no dead letter
    assert seen == [chosen["event_id"]]
    assert sink.sent == []
