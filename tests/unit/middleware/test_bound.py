"""``bound``: the database's bound on a handler call is the message's fault (retried, its
effect undone); overruns are remembered across redeliveries, then the message is poison; a
slow call that returns keeps its effect; an outage passes through."""

from __future__ import annotations

from typing import Any

import pytest
from psycopg import errors

from consumer_runtime import Delivery, Outcome, handler
from consumer_runtime.errors import HandlerTimeout, Outage, PoisonMessage
from consumer_runtime.middleware.bound import Overruns, bound
from consumer_runtime.middleware.chain import Chain
from consumer_runtime.middleware.decode import decode
from consumer_runtime.middleware.handler import call_handler
from consumer_runtime.middleware.idempotent import idempotent
from consumer_runtime.middleware.retry import retry
from consumers.events import OrderPlaced
from tests import factories
from tests.consumer_fakes import CODEC, FakeDatabase, FakeTransaction, registered


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _fresh(offset: int = 0) -> Delivery:
    """A delivery of a new OrderPlaced in a transaction of its own."""
    message = factories.kafka_message(factories.placed_record(), offset=offset)
    return Delivery(message, "g", FakeTransaction(FakeDatabase()))


def _bounded(handle: Any, clock: Clock, attempts: int = 3) -> Chain:
    """decode, retry, idempotent and bound around ``handle``, as in the real chain."""
    registration = registered(handle)
    return Chain(
        call_handler(registration),
        [
            decode(CODEC, registration),
            retry(attempts, 0, 0, sleep=lambda s: None),
            idempotent,
            bound(5.0, Overruns(attempts), clock=clock),
        ],
    )


def test_a_slow_handler_that_returns_keeps_its_effect() -> None:
    clock = Clock()

    @handler("g")
    def slow(event: OrderPlaced, ctx: Any) -> None:
        ctx.connection.effects.append(1)
        clock.now += 30  # far past the bound, but every statement and gap within it

    d = _fresh()
    assert _bounded(slow, clock)(d) is Outcome.HANDLED
    assert d.tx.effects == [1]  # type: ignore[attr-defined]


def test_the_databases_bound_is_an_overrun_its_effect_undone_and_retried() -> None:
    clock, calls = Clock(), []

    @handler("g")
    def blocked_once(event: OrderPlaced, ctx: Any) -> None:
        calls.append(1)
        ctx.connection.effects.append(len(calls))
        if len(calls) == 1:
            raise errors.QueryCanceled("canceling statement due to statement timeout")

    d = _fresh()
    assert _bounded(blocked_once, clock)(d) is Outcome.HANDLED
    assert d.tx.effects == [2]  # type: ignore[attr-defined]  # the overrun attempt rolled back


def test_any_failure_after_the_bound_is_an_overrun() -> None:
    clock = Clock()

    def dies_late(d: Delivery) -> Outcome:
        clock.now += 6
        raise RuntimeError("connection dropped after a long wait")

    with pytest.raises(HandlerTimeout):
        bound(5.0, Overruns(3), clock=clock)(dies_late)(_fresh())


def test_overruns_are_counted_across_redeliveries_then_the_message_is_poison() -> None:
    """An overrun that ended the session is redelivered as an outage, so the retry middleware
    never sees a third attempt: the bound itself remembers the message's overruns."""
    clock = Clock()

    def always_blocks(d: Delivery) -> Outcome:
        clock.now += 10
        raise RuntimeError("server closed the connection")

    step = bound(5.0, Overruns(2), clock=clock)(always_blocks)
    for _ in range(2):
        with pytest.raises(HandlerTimeout):
            step(_fresh(offset=7))
    with pytest.raises(PoisonMessage, match="overran its 5s bound 2 times"):
        step(_fresh(offset=7))
    with pytest.raises(HandlerTimeout):  # another message starts from zero
        step(_fresh(offset=8))


def test_an_outage_inside_the_bound_passes_through_untouched() -> None:
    clock = Clock()

    def outage(d: Delivery) -> Outcome:
        clock.now += 60
        raise Outage("postgres: gone")

    with pytest.raises(Outage):
        bound(5.0, Overruns(3), clock=clock)(outage)(_fresh())


def test_a_call_that_returns_clears_its_messages_overruns() -> None:
    """In an optimistic batch a pipelined timeout can surface in another message's call; that
    message's isolated rerun returns, and the wrongly counted overrun is forgotten."""
    clock, fail = Clock(), [True]

    def sometimes(d: Delivery) -> Outcome:
        if fail[0]:
            clock.now += 10
            raise RuntimeError("canceling statement due to statement timeout")
        clock.now += 1  # within the bound: only such a return clears the count
        return Outcome.HANDLED

    step = bound(5.0, Overruns(2), clock=clock)(sometimes)
    with pytest.raises(HandlerTimeout):
        step(_fresh(offset=3))
    fail[0] = False
    assert step(_fresh(offset=3)) is Outcome.HANDLED
    fail[0] = True
    for _ in range(2):  # counted from zero again: two more overruns before it is poison
        with pytest.raises(HandlerTimeout):
            step(_fresh(offset=3))


def test_a_slow_return_does_not_clear_the_overruns() -> None:
    """Pipelined, a blocked handler may return late instead of being cut off: that is no
    proof it is fine, so its overruns stand and it is still dead-lettered in the end."""
    clock, cut_off = Clock(), [True]

    def blocked(d: Delivery) -> Outcome:
        clock.now += 10
        if cut_off[0]:
            raise RuntimeError("terminating connection due to idle-in-transaction timeout")
        return Outcome.HANDLED

    step = bound(5.0, Overruns(2), clock=clock)(blocked)
    with pytest.raises(HandlerTimeout):
        step(_fresh(offset=5))
    cut_off[0] = False
    step(_fresh(offset=5))  # slow, returned
    cut_off[0] = True
    with pytest.raises(HandlerTimeout):
        step(_fresh(offset=5))
    with pytest.raises(PoisonMessage):
        step(_fresh(offset=5))
