"""``dead_letter``: a message that can never be handled, or failed every attempt, is stored
in the group's dead-letter topic with the reason, and the group moves on.

It catches ``PoisonMessage`` and ``RetriesExhausted`` (and, as a last resort, any other error
of the message's); ``Outage``/``BatchConflict``/``Isolate`` pass through, since none is the
message's fault. The dead letter leaves a mark in processed_events, in the transaction whose
offsets move past the message, so a redelivery is a duplicate and nothing is sent twice.
"""

from __future__ import annotations

import logging
import uuid

from consumer_runtime.delivery import Delivery, Middleware, Step
from consumer_runtime.errors import PASS_THROUGH, PoisonMessage, RetriesExhausted
from consumer_runtime.message import Message, Outcome
from consumer_runtime.middleware.chain import layer
from consumer_runtime.ports import DeadLetterSink

log = logging.getLogger("consumers")
# Names a dead letter that has no event id of its own (it did not decode) by its position.
POSITION_NAMESPACE = uuid.UUID("7b0c2f4e-5a55-4d1e-9a53-3f1c0d5e9a10")


def position_id(message: Message) -> uuid.UUID:
    """A stable id for a message that has none we can trust (it did not decode): the same
    record redelivered gets the same id, and no real event can collide with it."""
    return uuid.uuid5(POSITION_NAMESPACE, message.where)


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
                sink.send(d.message, d.group, reason)
            return Outcome.DEAD_LETTERED

        return run

    return middleware
