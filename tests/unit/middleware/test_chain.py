"""The chain ``build_runtime`` makes: the guarantees in their fixed places, read off the real
composition (``Chain.layers``), and users' middleware between ``retry`` and the savepoint."""

from __future__ import annotations

from typing import Any

from consumer_runtime import Delivery, HandlerContext, Middleware, Outcome, Step, handler
from consumer_runtime.middleware.chain import Chain
from consumers.events import OrderPlaced
from tests import factories
from tests.consumer_fakes import FakeDatabase, FakeTransaction, RecordingSink, chain_for, deliver

Seen = list[tuple[str, int, str | None]]


def _user(name: str, seen: Seen) -> Middleware:
    """A user middleware that notes its name, the savepoint depth and the event type."""

    def middleware(step: Step) -> Step:
        def run(d: Delivery) -> Outcome:
            depth = getattr(d.tx, "depth", 0)
            seen.append((name, depth, type(d.event).__name__ if d.event else None))
            return step(d)

        return run

    middleware.__name__ = name
    return middleware


def _with_users(seen: Seen, **extras: Any) -> Chain:
    @handler("g", middleware=[_user("per_handler", seen)])
    def effect(event: OrderPlaced, ctx: Any) -> None:
        ctx.connection.effects.append(1)  # the fake transaction is its own connection

    return chain_for(effect, middleware=[_user("processor_wide", seen)], **extras)


def test_the_real_chain_keeps_the_guarantees_in_their_places() -> None:
    """Swapping ``idempotent`` and ``bound``, moving ``dead_letter`` inside ``retry`` or a
    user middleware inside the savepoint changes these layers and fails here."""
    layers = _with_users([], duplicate=True).layers
    assert layers == (
        "log_context",
        "trace",
        "dead_letter",
        "decode",
        "retry",
        "processor_wide",
        "per_handler",
        "duplicator",
        "idempotent",
        "bound",
        "handler",
    )
    at = layers.index
    assert at("trace") < at("dead_letter")  # the span ends with the outcome, dead letters too
    assert at("dead_letter") < at("decode") < at("retry")  # bad bytes: dead-lettered at once
    assert at("retry") < at("idempotent") < at("bound") < at("handler")
    assert max(at("processor_wide"), at("per_handler")) < at("duplicator") < at("idempotent")


def test_a_selection_is_the_outermost_layer() -> None:
    @handler("g")
    def nothing(event: OrderPlaced, ctx: HandlerContext) -> None: ...

    assert chain_for(nothing, select=lambda m: True).layers[0] == "only"


def test_user_middleware_runs_per_attempt_on_the_decoded_event_outside_the_savepoint() -> None:
    seen: Seen = []
    chain = _with_users(seen)
    tx = FakeTransaction(FakeDatabase())
    message = factories.kafka_message(factories.placed_record())
    assert deliver(chain, message, tx) is Outcome.HANDLED
    assert seen == [("processor_wide", 0, "OrderPlaced"), ("per_handler", 0, "OrderPlaced")]


def test_a_failure_raised_by_user_middleware_is_retried_then_dead_lettered_once() -> None:
    sink, calls = RecordingSink(), []

    def flaky(step: Step) -> Step:
        def run(d: Delivery) -> Outcome:
            calls.append(1)
            raise RuntimeError("rate limiter down")

        return run

    @handler("g", middleware=[flaky])
    def nothing(event: OrderPlaced, ctx: HandlerContext) -> None: ...

    outcome = deliver(chain_for(nothing, sink), factories.kafka_message(factories.placed_record()))
    assert outcome is Outcome.DEAD_LETTERED
    assert len(calls) == 3  # dead_letter outside retry: one letter after every attempt
    assert len(sink.sent) == 1
