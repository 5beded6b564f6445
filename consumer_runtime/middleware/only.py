"""``only``: lets in only the messages a selection accepts (a dead-letter replay of chosen
ids); the others are ignored. Outermost, so nothing else runs for them."""

from __future__ import annotations

from collections.abc import Callable

from consumer_runtime.delivery import Delivery, Middleware, Step
from consumer_runtime.message import Message, Outcome
from consumer_runtime.middleware.chain import layer


def only(select: Callable[[Message], bool]) -> Middleware:
    @layer("only")
    def middleware(step: Step) -> Step:
        def run(d: Delivery) -> Outcome:
            return step(d) if select(d.message) else Outcome.IGNORED

        return run

    return middleware
