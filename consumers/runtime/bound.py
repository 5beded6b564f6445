"""The handler's bound, as a middleware (see ``consumers.runtime.middleware`` for its place)."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from consumers.runtime.causes import is_own_bound
from consumers.runtime.errors import PASS_THROUGH, HandlerTimeout, Isolate, PoisonMessage
from consumers.runtime.layers import layer
from consumers.runtime.message import Delivery, Middleware, Outcome, Step


def bound(
    seconds: float,
    attempts: int,
    clock: Callable[[], float] = time.monotonic,
    remember: int = 10_000,
) -> Middleware:
    """The handler's bound is enforced by Postgres (``PostgresTransactions``): a statement
    longer than ``seconds`` is cancelled, a transaction idle longer than ``seconds`` (a
    handler blocked outside the database) has its session ended and its locks released.
    Here such an error, or any failure after ``seconds``, becomes ``HandlerTimeout``: the
    message's fault, retried, then dead-lettered. A handler that returns, however slowly, has
    its effect kept: only the database's bound undoes work.

    An overrun that ended the session cannot be retried on it: the batch is rolled back as an
    outage and redelivered. So overruns are counted per message position here, across
    redeliveries, and the message is dead-lettered once it has overrun ``attempts`` times;
    otherwise one record that always blocks would stop its group for good."""
    overruns: OrderedDict[str, int] = OrderedDict()

    @layer("bound")
    def middleware(step: Step) -> Step:
        def run(d: Delivery) -> Outcome:
            where = d.message.where
            if overruns.get(where, 0) >= attempts:
                raise PoisonMessage(f"handler overran its {seconds:g}s bound {attempts} times")
            started = clock()
            try:
                outcome = step(d)
            except PASS_THROUGH:
                raise
            except Exception as exc:
                elapsed = clock() - started
                # In an optimistic batch a pipelined error may be another message's: only the
                # isolated rerun, one savepoint per message, can pin an overrun on this one.
                if not d.tx.isolated or not (is_own_bound(exc) or elapsed >= seconds):
                    raise
                overruns[where] = overruns.pop(where, 0) + 1
                while len(overruns) > remember:
                    overruns.popitem(last=False)
                raise HandlerTimeout(
                    f"handler overran its {seconds:g}s bound after {elapsed:.2f}s: {exc!r}"
                ) from exc
            if not d.tx.isolated and clock() - started >= seconds:
                # Pipelined, the server could not hold this call to its idle bound; rerun
                # isolated, where it can, so the outcome does not depend on the batch mode.
                raise Isolate(f"handler call took past its {seconds:g}s bound in a batch")
            return outcome

        return run

    return middleware
