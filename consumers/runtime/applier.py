"""Applies one poll batch to the database: optimistically first, isolated where it must.

The optimistic pass (``consumers.runtime.optimistic``) runs the whole batch in one pipelined
transaction. When message *i* fails in it, the batch is not rerun wholesale: the messages
before *i* run optimistically again (once; isolated if that fails too, since a pipelined
error can surface one statement late), message *i* runs alone with its savepoint, retries
and dead-lettering, and the rest starts over optimistically. One poison message then costs
three short transactions instead of its whole batch at the isolated pace. A failure with no
message to blame (at commit, in a batch handler, an unused claim) reruns everything isolated.

Each part commits on its own. A crash between two parts redelivers the batch, whose committed
part is absorbed by ``processed_events``, as after any crash before the offset commit.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import TYPE_CHECKING

from consumers.runtime.errors import Isolate
from consumers.runtime.message import Delivery, Message, Outcome
from consumers.runtime.optimistic import Claims, OptimisticTransaction, claimable
from consumers.runtime.registry import Registration

if TYPE_CHECKING:
    from consumers.runtime.middleware import Step
    from consumers.runtime.processor import Transactions

log = logging.getLogger("consumers.processor")


class BatchApplier:
    def __init__(
        self,
        registration: Registration,
        transactions: Transactions,
        chain: Step,
        stats: Counter[str],
        *,
        optimistic: bool = True,
    ) -> None:
        self._registration = registration
        self._transactions = transactions
        self._chain = chain
        self._stats = stats
        self._optimistic = optimistic

    @property
    def group(self) -> str:
        return self._registration.name

    def apply(self, messages: list[Message]) -> list[Outcome]:
        if not self._optimistic:
            return self.isolated(messages)
        outcomes: list[Outcome] = []
        rest = messages
        while rest:
            try:
                return outcomes + self.optimistic(rest)
            except Isolate as exc:
                self._stats["isolations"] += 1
                log.info("isolating in a batch of %d: %s", len(rest), exc)
                at = exc.at
                if at is None:
                    return outcomes + self.isolated(rest)
            if at:
                outcomes += self._once_optimistic(rest[:at])
            outcomes += self.isolated(rest[at : at + 1])
            rest = rest[at + 1 :]
        return outcomes

    def _once_optimistic(self, messages: list[Message]) -> list[Outcome]:
        try:
            return self.optimistic(messages)
        except Isolate:
            self._stats["isolations"] += 1
            return self.isolated(messages)

    def isolated(self, messages: list[Message]) -> list[Outcome]:
        with self._transactions.begin() as tx:
            return [self._chain(Delivery(m, self.group, tx)) for m in messages]

    def optimistic(self, messages: list[Message]) -> list[Outcome]:
        """Raises ``Isolate`` (its ``at`` naming the failing message when one did)."""
        with self._transactions.begin(optimistic=True) as raw:
            claims = claimable(messages, self._registration.event_types)
            tx = OptimisticTransaction(raw, Claims.prefetch(raw.processed, self.group, claims))
            outcomes = []
            for i, m in enumerate(messages):
                try:
                    outcomes.append(self._chain(Delivery(m, self.group, tx)))
                except Isolate as exc:
                    exc.at = i
                    raise
            if self._registration.handle_batch is not None:
                tx.run_batch(self._registration.handle_batch)
            tx.check_claims()
            return outcomes
