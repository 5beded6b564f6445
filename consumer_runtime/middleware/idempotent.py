"""``idempotent``: a savepoint, then the processed-event mark (``INSERT ... ON CONFLICT DO
NOTHING`` in Postgres); a duplicate skips the handler, a failure rolls the effect back to
the savepoint. The mark and the effect commit together or not at all."""

from __future__ import annotations

from consumer_runtime.delivery import Delivery, Step
from consumer_runtime.message import Outcome


def idempotent(step: Step) -> Step:
    def run(d: Delivery) -> Outcome:
        assert d.event is not None
        with d.tx.savepoint():
            if not d.tx.processed.mark(d.group, d.event.event_id, d.message.where):
                return Outcome.DUPLICATE
            return step(d)

    return run
