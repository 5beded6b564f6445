"""The clean-batch path: an optimistic batch for a handler with a batch form, without the
per-message middleware chain.

Why: almost every batch is clean (every message decodes, none fails), and for such a batch
the chain's per-message layers (log context, span scope, dead-letter and retry frames, a
savepoint that is a no-op when optimistic, one closure call per layer) cost more CPU than
decoding and the handler's SQL together (the profile is in docs/performance.md). So a clean
batch runs as four loops over the batch instead: decode every message, claim every event id
in one statement, drop duplicates, call the batch form once.

The guarantees are the chain's, reached another way, and anything that would need the chain
leaves this path by raising ``Isolate`` (the applier reruns the message on the isolated path,
with its savepoint, retries and dead letter):

- decoding is the same function (``middleware.decode.decode_event``); poison raises
  ``Isolate`` at the message, which is dead-lettered from its isolated run, never from here;
- a message that already overran its bound ``attempts`` times (``middleware.bound.Overruns``)
  is sent to the isolated path likewise, where the ``bound`` layer dead-letters it;
- idempotency is ``processed_events`` as ever: the ids are claimed by ``mark_many`` in the
  batch's transaction, and only the events claimed for the first time reach the handler;
- the batch form runs in ``OptimisticTransaction.savepoint``: any failure, or a run past the
  handler's bound, is ``Isolate`` for the whole batch, rerun per message.

Only a chain with no user middleware, no duplicator and no selection takes this path
(``runtime.clean_path``, reported at start): those layers must see every message.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from opentelemetry.trace import Span, Tracer

from consumer_runtime.errors import Isolate, PoisonMessage
from consumer_runtime.message import HandlerContext, Message, Outcome
from consumer_runtime.middleware.bound import Overruns
from consumer_runtime.middleware.decode import decode_event
from consumer_runtime.middleware.trace import end_span, recording, start_span
from consumer_runtime.optimistic import Claims, OptimisticTransaction
from consumer_runtime.ports import BatchTransaction
from consumer_runtime.registry import Registration
from contract import AvroCodec


class CleanBatch:
    """Runs a batch the chain would run optimistically, in the same transaction, with the
    same outcomes, or raises ``Isolate`` (``at``: the message to blame, if one is)."""

    def __init__(
        self,
        registration: Registration,
        codec: AvroCodec,
        overruns: Overruns,
        handler_bound: float,
        tracer: Tracer | None = None,
    ) -> None:
        assert registration.handle_batch is not None, "the clean path needs a batch form"
        self._registration = registration
        self._handle_batch = registration.handle_batch
        self._codec = codec
        self._overruns = overruns
        self._handler_bound = handler_bound
        self._tracer = tracer

    def run(self, messages: list[Message], raw: BatchTransaction) -> list[Outcome]:
        group = self._registration.name
        spans = recording(self._tracer)
        started: list[Span] = [start_span(spans, m, group) for m in messages] if spans else []
        try:
            outcomes = self._apply(messages, raw, group)
        except BaseException:
            for span in started:
                span.end()
            raise
        for span, outcome in zip(started, outcomes, strict=False):
            end_span(span, outcome)
        return outcomes

    def _apply(self, messages: list[Message], raw: BatchTransaction, group: str) -> list[Outcome]:
        events = self._decode(messages)
        claims = [(e.event_id, m.where) for m, e in zip(messages, events, strict=True) if e]
        marks = Claims.prefetch(raw.processed, group, claims)
        tx = OptimisticTransaction(raw, marks, handler_bound=self._handler_bound)
        now = datetime.now(UTC)
        outcomes: list[Outcome] = []
        batch: list[tuple[Any, HandlerContext]] = []
        for m, event in zip(messages, events, strict=True):
            if event is None:
                outcomes.append(Outcome.IGNORED)
            elif tx.processed.mark(group, event.event_id, m.where):
                batch.append((event, HandlerContext(raw.connection, group, m, now)))
                outcomes.append(Outcome.HANDLED)
            else:
                outcomes.append(Outcome.DUPLICATE)
        if batch:
            with tx.savepoint():
                self._handle_batch(batch)
        tx.check_claims()
        return outcomes

    def _decode(self, messages: list[Message]) -> list[Any | None]:
        events: list[Any | None] = []
        for i, m in enumerate(messages):
            try:
                if self._overruns.exhausted(m.where):
                    raise PoisonMessage("overran its bound too often: the isolated path decides")
                events.append(decode_event(self._codec, self._registration, m))
            except PoisonMessage as exc:
                isolate = Isolate(f"{m.where}: {exc}")
                isolate.at = i
                raise isolate from exc
        return events
