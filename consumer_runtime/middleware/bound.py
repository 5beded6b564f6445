"""``bound``: the handler's bound, inside the savepoint (see ``consumer_runtime.middleware``
for its place). ``Overruns`` is its memory, shared with the clean-batch path."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from consumer_runtime.causes import is_own_bound
from consumer_runtime.delivery import Delivery, Middleware, Step
from consumer_runtime.errors import PASS_THROUGH, HandlerTimeout, PoisonMessage
from consumer_runtime.message import Outcome
from consumer_runtime.middleware.chain import layer


class Overruns:
    """How many times the message at each position overran its bound, across redeliveries
    (the last ``remember`` positions). Shared by the ``bound`` middleware and the clean-batch
    path, which sends a message that overran ``attempts`` times to the isolated path."""

    def __init__(self, attempts: int, remember: int = 10_000) -> None:
        self.attempts = attempts
        self._remember = remember
        self._counts: OrderedDict[str, int] = OrderedDict()

    def exhausted(self, where: str) -> bool:
        return self._counts.get(where, 0) >= self.attempts

    def overran(self, where: str) -> None:
        self._counts[where] = self._counts.pop(where, 0) + 1
        while len(self._counts) > self._remember:
            self._counts.popitem(last=False)

    def cleared(self, where: str) -> None:
        self._counts.pop(where, None)


def bound(
    handler_bound: float, overruns: Overruns, clock: Callable[[], float] = time.monotonic
) -> Middleware:
    """The handler's bound is enforced by Postgres (``adapters.postgres``): a statement longer
    than ``handler_bound`` seconds is cancelled, a transaction idle longer (a handler blocked
    outside the database) has its session ended and its locks released. Here such an error,
    or any failure after ``handler_bound``, becomes ``HandlerTimeout``: the message's fault,
    retried, then dead-lettered. A handler that returns, however slowly, has
    its effect kept: only the database's bound undoes work.

    An overrun that ended the session cannot be retried on it: the batch is rolled back as an
    outage and redelivered. So overruns are counted per message position here, across
    redeliveries, and the message is dead-lettered once it has overrun ``attempts`` times;
    otherwise one record that always blocks would stop its group for good. A call that
    returns within the bound clears its message's count: in an optimistic batch a pipelined
    error can surface in another message's call, and that message's isolated rerun then
    clears it. A slow return clears nothing (pipelined, the server could not cut it off)."""
    counts, attempts = overruns, overruns.attempts

    @layer("bound")
    def middleware(step: Step) -> Step:
        def run(d: Delivery) -> Outcome:
            where = d.message.where
            if counts.exhausted(where):
                raise PoisonMessage(
                    f"handler overran its {handler_bound:g}s bound {attempts} times"
                )
            started = clock()
            try:
                outcome = step(d)
            except PASS_THROUGH:
                raise
            except Exception as exc:
                elapsed = clock() - started
                if not (is_own_bound(exc) or elapsed >= handler_bound):
                    raise
                counts.overran(where)
                raise HandlerTimeout(
                    f"handler overran its {handler_bound:g}s bound after {elapsed:.2f}s: {exc!r}"
                ) from exc
            if clock() - started < handler_bound:
                counts.cleared(where)  # within its bound: earlier counts were not its own
            return outcome

        return run

    return middleware
