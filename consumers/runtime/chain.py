"""The chain every message runs through: the middleware in the order the guarantees need
(written down in ``consumers.runtime.middleware``), with users' middleware in its one place."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from opentelemetry.trace import Tracer

from consumers.runtime import middleware as mw
from consumers.runtime.bound import Overruns, bound
from consumers.runtime.clean import CleanBatch
from consumers.runtime.dead_letters import DeadLetterSink
from consumers.runtime.message import Message
from consumers.runtime.registry import Registration
from consumers.runtime.tracing import traced
from contract import AvroCodec


def build_chain(
    registration: Registration,
    codec: AvroCodec,
    sink: DeadLetterSink,
    *,
    attempts: int,
    base: float,
    cap: float,
    timeout_s: float,
    duplicate: bool = False,
    sleep: Callable[[float], None] = time.sleep,
    select: Callable[[Message], bool] | None = None,
    middleware: Sequence[mw.Middleware] = (),
    tracer: Tracer | None = None,
    overruns: Overruns | None = None,
) -> mw.Chain:
    """The middleware order documented in ``consumers.runtime.middleware``: the guarantees
    in their fixed places, the processor's ``middleware`` then the handler's own between
    ``retry`` and the idempotency savepoint. ``select``, when given, lets only the messages
    it accepts in (a dead-letter replay of chosen ids). ``tracer``: where the per-message
    spans go (``consumers.runtime.tracing``). ``overruns``: the bound's memory, shared with the
    clean-batch path (``clean_batch``)."""
    chain: list[mw.Middleware] = [mw.only(select)] if select is not None else []
    chain += [
        mw.log_context,
        traced(tracer),
        mw.dead_letter(sink),
        mw.decode(codec, registration),
        mw.retry(attempts, base, cap, sleep=sleep),
        *middleware,
        *registration.middleware,
    ]
    if duplicate:
        chain.append(mw.duplicator)
    chain += [mw.idempotent, bound(timeout_s, attempts, overruns=overruns)]
    return mw.compose(mw.call_handler(registration), chain)


def clean_batch(
    registration: Registration,
    codec: AvroCodec,
    overruns: Overruns,
    *,
    duplicate: bool = False,
    select: Callable[[Message], bool] | None = None,
    middleware: Sequence[mw.Middleware] = (),
    tracer: Tracer | None = None,
) -> CleanBatch | None:
    """The clean-batch path (``consumers.runtime.clean``) for the chain ``build_chain`` makes
    from the same arguments, or None where that chain must see every message: no batch form,
    a duplicator, a selection, or any user middleware."""
    if registration.handle_batch is None or duplicate or select is not None:
        return None
    if middleware or registration.middleware:
        return None
    return CleanBatch(registration, registration.handle_batch, codec, overruns, tracer=tracer)
