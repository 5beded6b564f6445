"""``duplicator`` (tests and demos: ``python -m consumers run --duplicate``): runs the rest of
the chain twice. It sits outside ``idempotent``, so the second run must be absorbed there:
a handler that is not idempotent shows a double effect."""

from __future__ import annotations

from consumer_runtime.delivery import Delivery, Step
from consumer_runtime.message import Outcome


def duplicator(step: Step) -> Step:
    def run(d: Delivery) -> Outcome:
        first = step(d)
        second = step(d)
        d.notes["duplicate_outcome"] = second
        return first

    return run
