"""The optimistic batch: a whole poll in one transaction with no savepoint per message and
the processed-event marks written by one statement up front.

Why: per message, the isolated path costs three extra round trips (SAVEPOINT, the mark's
INSERT, RELEASE), which is most of a short handler's time. Almost every batch is clean, so
the processor runs it optimistically first. Correctness rests on three rules:

- the first failure of any message (poison, handler error, timeout) raises ``Isolate``; the
  batch is rolled back and ``consumer_runtime.applier`` runs that message on the isolated
  path, where it is retried and dead-lettered alone. Nothing is dead-lettered from here.
- a handler with a batch form (``Registration.handle_batch``) is called once, after the chain
  has run for every message, on the events that were not duplicates; if it raises, that too
  is ``Isolate`` and the rerun calls the per-event handler.
- every mark claimed up front must be consumed by the idempotency middleware of its message;
  a claim left over (a message ignored or filtered after all) also means ``Isolate``, so no
  event is ever recorded as processed without its handler having run in the same transaction.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from consumer_runtime.errors import PASS_THROUGH, Isolate
from consumer_runtime.message import Message
from consumer_runtime.ports import ProcessedEvents, Transaction
from contract import headers as h


def claimable(
    messages: Sequence[Message], event_types: frozenset[str]
) -> list[tuple[uuid.UUID, str]]:
    """(event id, position) of the messages whose headers say they are for this handler.
    Headers are only a hint here: the middleware still checks them against the payload, and
    a message without usable headers is marked one by one."""
    claims = []
    for m in messages:
        raw_id, event_type = m.header(h.EVENT_ID), m.header(h.EVENT_TYPE)
        if raw_id is None or event_type not in event_types:
            continue
        try:
            claims.append((uuid.UUID(raw_id), m.where))
        except ValueError:
            continue
    return claims


class Claims:
    """``Marks`` answered from one ``mark_many`` of the store: the first ``mark`` of a claimed
    fresh id is True, any later one False; ids never claimed go to the store one by one."""

    def __init__(self, store: ProcessedEvents, claimed: set[uuid.UUID], fresh: set[uuid.UUID]):
        self._store = store
        self._claimed = claimed
        self.unused = set(fresh)

    @classmethod
    def prefetch(
        cls, store: ProcessedEvents, group: str, claims: Sequence[tuple[uuid.UUID, str]]
    ) -> Claims:
        return cls(store, {c[0] for c in claims}, store.mark_many(group, claims))

    def mark(self, group: str, event_id: uuid.UUID, where: str) -> bool:
        if event_id not in self._claimed:
            return self._store.mark(group, event_id, where)
        if event_id in self.unused:
            self.unused.remove(event_id)
            return True
        return False

    def mark_dead_lettered(self, group: str, event_id: uuid.UUID, where: str) -> bool:
        """An optimistic batch never dead-letters: the message's failure ends the batch, and
        its isolated rerun, with a savepoint per message, decides again (and sends once)."""
        raise Isolate(f"{where} is to be dead-lettered: rerun it isolated")


class OptimisticTransaction:
    """Wraps the batch's real transaction: savepoints become no-ops that turn a failure
    inside them into ``Isolate``, and the marks (``Claims``) refuse a dead letter likewise."""

    def __init__(self, tx: Transaction, claims: Claims, *, handler_bound: float) -> None:
        self._tx = tx
        self._handler_bound = handler_bound
        self.processed = claims
        tx.sync()  # the marks are in: from here the server's idle bound is armed

    def sync(self) -> None:
        self._tx.sync()

    @property
    def connection(self) -> Any:
        return self._tx.connection

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """No savepoint: a failure ends the batch (``Isolate``). After a message, what its
        handler sent is synced, so that a process stopped between two messages holds its
        locks no longer than the server's idle bound (a round trip only when it sent any).

        A message that took past ``handler_bound`` also ends the batch: pipelined, the
        server could not hold its handler to the idle bound between two statements, so it is
        rerun isolated, where it can, and the outcome does not depend on the batch mode."""
        started = time.monotonic()
        try:
            yield
            self._tx.sync()
        except PASS_THROUGH:
            raise
        except Exception as exc:
            raise Isolate(f"{type(exc).__name__}: {exc}") from exc
        if time.monotonic() - started >= self._handler_bound:
            msg = f"a handler call took past its {self._handler_bound:g}s bound in a batch"
            raise Isolate(msg)

    def check_claims(self) -> None:
        if self.processed.unused:
            raise Isolate(f"{len(self.processed.unused)} claimed event(s) not handled")
