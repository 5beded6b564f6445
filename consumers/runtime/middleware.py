"""Middleware: each is a function that takes a step and returns a step that wraps it.

A step is ``Callable[[Delivery], Outcome]``. The processor composes them in this order,
outermost first (``build_chain``); each line says why it sits where it does:

1. ``log_context``   - binds event id, trace and position to every log line inside.
2. ``trace``         - one CONSUMER span per message run, the child of the outbox write's
                       span (``traceparent``); it ends with the outcome, dead letters
                       included (``consumers.runtime.tracing``).
3. ``dead_letter``   - catches ``PoisonMessage`` and ``RetriesExhausted`` (and, as a last
                       resort, any other error of the message's), sends the original bytes
                       and headers plus the reason to the group's dead-letter topic, marks it
                       in processed_events so a redelivery is a duplicate, and lets the group
                       move on. ``Outage``/``BatchConflict``/``Isolate`` pass
                       through: an outage is waited out, never dead-lettered. In an optimistic
                       batch the transaction refuses the mark (``Isolate``) before anything
                       is sent: the applier, not this step, owns that decision.
4. ``decode``        - bytes -> event with the shared codec, resolved to this deployable's
                       reader schema; bad bytes are ``PoisonMessage`` (never retried).
5. ``retry``         - exponential backoff with full jitter, for handler failures only.
   *user middleware* - the processor's (``bootstrap(middleware=...)``), then the handler's
                       (``Registration.of(..., middleware=...)``): each sees the decoded
                       event once per attempt; what it raises is retried, then dead-lettered.
                       Never inside the savepoint: its writes could not be rolled back with
                       the handler's, nor may it skip the idempotency mark.
6. ``duplicator``    - (tests and demos) runs the rest twice; sits *outside* idempotency so
                       the second run must be absorbed by it, proving the handler idempotent.
7. ``idempotent``    - a savepoint, then ``INSERT ... ON CONFLICT DO NOTHING`` into
                       processed_events; a duplicate skips the handler; a failure rolls the
                       effect back to the savepoint.
8. ``bound``         - inside the savepoint: a handler that overran the database's bound
                       (statement or idle-in-transaction limit) has its effect undone and
                       is retried as the message's fault (``consumers.runtime.bound``).
9. the handler.

What each error means is decided by its cause, in one place: ``consumers.runtime.causes``.

A clean batch of a handler with a batch form and no middleware of its own skips this chain
(``consumers.runtime.clean``): the same decoding, marks and bound memory in four loops over
the batch; anything that needs a layer above sends its message back here, isolated.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime

from consumers.runtime.dead_letters import DeadLetterSink, position_id
from consumers.runtime.decoding import decode_event
from consumers.runtime.errors import (
    PASS_THROUGH,
    PoisonMessage,
    RetriesExhausted,
)
from consumers.runtime.layers import Chain as Chain
from consumers.runtime.layers import compose as compose
from consumers.runtime.layers import layer
from consumers.runtime.logs import bind
from consumers.runtime.message import Delivery, HandlerContext, Message, Outcome
from consumers.runtime.message import Middleware as Middleware
from consumers.runtime.message import Step as Step
from consumers.runtime.registry import Registration
from contract import AvroCodec
from contract import headers as h

log = logging.getLogger("consumers")
# Retrying cannot help a poison message, nor anything the processor must see.
NOT_RETRIED: tuple[type[Exception], ...] = (PoisonMessage, *PASS_THROUGH)


def only(select: Callable[[Message], bool]) -> Middleware:
    @layer("only")
    def middleware(step: Step) -> Step:
        def run(d: Delivery) -> Outcome:
            return step(d) if select(d.message) else Outcome.IGNORED

        return run

    return middleware


def log_context(step: Step) -> Step:
    def run(d: Delivery) -> Outcome:
        m = d.message
        with bind(
            group=d.group,
            where=m.where,
            event_id=m.header(h.EVENT_ID),
            traceparent=m.header(h.TRACEPARENT),
        ):
            return step(d)

    return run


def dead_letter(sink: DeadLetterSink) -> Middleware:
    @layer("dead_letter")
    def middleware(step: Step) -> Step:
        def run(d: Delivery) -> Outcome:
            try:
                return step(d)
            except PASS_THROUGH:
                raise
            except PoisonMessage as exc:
                reason, mark = f"poison: {exc}", position_id(d.message)
            except RetriesExhausted as exc:
                reason = f"failed after {exc.attempts} attempts: {exc.last!r}"
                mark = d.event.event_id if d.event is not None else position_id(d.message)
            except Exception as exc:  # last resort: no record of any shape may stop the group
                reason, mark = f"poison: unexpected {exc!r}", position_id(d.message)
            with d.tx.savepoint():
                # The mark commits with the batch whose offsets move past the message: a
                # redelivery finds it and sends nothing twice. (An optimistic batch refuses
                # the mark with ``Isolate``: its isolated rerun decides again, and sends once.)
                if not d.tx.processed.mark_dead_lettered(d.group, mark, d.message.where):
                    return Outcome.DUPLICATE
                log.warning("dead-lettered: %s", reason)
                sink.send(d, reason)
            return Outcome.DEAD_LETTERED

        return run

    return middleware


def decode(codec: AvroCodec, registration: Registration) -> Middleware:
    @layer("decode")
    def middleware(step: Step) -> Step:
        def run(d: Delivery) -> Outcome:
            event = decode_event(codec, registration, d.message)
            if event is None:
                return Outcome.IGNORED
            d.event = event
            return step(d)

        return run

    return middleware


def retry(
    attempts: int,
    base: float,
    cap: float,
    *,
    sleep: Callable[[float], None] = time.sleep,
    rng: random.Random | None = None,
) -> Middleware:
    jitter = rng or random.Random()

    @layer("retry")
    def middleware(step: Step) -> Step:
        def run(d: Delivery) -> Outcome:
            last: BaseException | None = None
            for attempt in range(1, attempts + 1):
                d.attempts = attempt
                try:
                    return step(d)
                except NOT_RETRIED:
                    raise
                except Exception as exc:
                    last = exc
                    log.info("attempt %d/%d failed: %r", attempt, attempts, exc)
                    if attempt < attempts:
                        sleep(min(cap, base * 2 ** (attempt - 1)) * jitter.random())
            assert last is not None
            raise RetriesExhausted(attempts, last)

        return run

    return middleware


def duplicator(step: Step) -> Step:
    def run(d: Delivery) -> Outcome:
        first = step(d)
        second = step(d)
        d.notes["duplicate_outcome"] = second
        return first

    return run


def idempotent(step: Step) -> Step:
    def run(d: Delivery) -> Outcome:
        assert d.event is not None
        with d.tx.savepoint():
            if not d.tx.processed.mark(d.group, d.event.event_id, d.message.where):
                return Outcome.DUPLICATE
            return step(d)

    return run


def call_handler(
    registration: Registration, now: Callable[[], datetime] = lambda: datetime.now(UTC)
) -> Step:
    @layer("handler")
    def run(d: Delivery) -> Outcome:
        assert d.event is not None
        ctx = HandlerContext(d.tx.connection, d.group, d.message, now())
        # The applier chose the batch form for this batch (``BatchApplier.optimistic``): it
        # runs once at the end, so the bound above covers only collecting the event here.
        if d.batch is not None:
            d.batch.append((d.event, ctx))
        else:
            registration.handle(d.event, ctx)
        return Outcome.HANDLED

    return run
