"""``retry``: a handler's failure is tried again with exponential backoff and full jitter,
then dead-lettered; one that heals is handled with no dead letter."""

from __future__ import annotations

from consumer_runtime import HandlerContext, Outcome, handler
from consumers.events import OrderPlaced
from tests import factories
from tests.consumer_fakes import RecordingSink, chain_for, deliver


def test_a_failure_is_retried_with_backoff_then_dead_lettered() -> None:
    sink, attempts, sleeps = RecordingSink(), [], list[float]()

    @handler("g")
    def always_fails(event: OrderPlaced, ctx: HandlerContext) -> None:
        attempts.append(1)
        raise ValueError("downstream says no")

    message = factories.kafka_message(factories.placed_record())
    chain = chain_for(always_fails, sink, backoff=(0.1, 1.0), sleep=sleeps.append)
    assert deliver(chain, message) is Outcome.DEAD_LETTERED
    assert len(attempts) == 3
    assert len(sleeps) == 2
    assert all(0 <= s <= 0.1 * 2**i for i, s in enumerate(sleeps))  # full jitter
    [(sent, reason)] = sink.sent
    assert sent is message
    assert reason.startswith("failed after 3 attempts: ValueError('downstream says no')")


def test_a_failure_that_heals_is_handled_without_dead_letter() -> None:
    sink, tries = RecordingSink(), []

    @handler("g")
    def flaky(event: OrderPlaced, ctx: HandlerContext) -> None:
        tries.append(1)
        if len(tries) < 2:
            raise ConnectionResetError("blip")

    message = factories.kafka_message(factories.placed_record())
    assert deliver(chain_for(flaky, sink), message) is Outcome.HANDLED
    assert sink.sent == []
