"""The innermost step: the handler itself, called with the event and its context."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from consumer_runtime.delivery import Delivery, Step
from consumer_runtime.message import HandlerContext, Outcome
from consumer_runtime.middleware.chain import layer
from consumer_runtime.registry import Registration


def call_handler(
    registration: Registration, now: Callable[[], datetime] = lambda: datetime.now(UTC)
) -> Step:
    @layer("handler")
    def run(d: Delivery) -> Outcome:
        assert d.event is not None
        ctx = HandlerContext(d.tx.connection, d.group, d.message, now())
        # The applier chose the batch form for this batch (``BatchApplier``): it runs once at
        # the end, so the bound above covers only collecting the event here.
        if d.batch is not None:
            d.batch.append((d.event, ctx))
        else:
            registration.handle(d.event, ctx)
        return Outcome.HANDLED

    return run
