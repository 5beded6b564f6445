"""``retry``: a handler's failure is tried again, with exponential backoff and full jitter,
up to ``attempts`` times; then ``RetriesExhausted`` (the ``dead_letter`` layer's). Poison and
what the processor must see (``errors.PASS_THROUGH``) are never retried here."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable

from consumer_runtime.delivery import Delivery, Middleware, Step
from consumer_runtime.errors import PASS_THROUGH, PoisonMessage, RetriesExhausted
from consumer_runtime.message import Outcome
from consumer_runtime.middleware.chain import layer

log = logging.getLogger("consumers")
NOT_RETRIED: tuple[type[Exception], ...] = (PoisonMessage, *PASS_THROUGH)


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
