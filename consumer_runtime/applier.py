"""Applies one poll batch to the database: optimistically first, isolated where it must.

The optimistic pass (``consumer_runtime.optimistic``) runs the whole batch in one pipelined
transaction (for a handler with a batch form and no layer that must see every message, without
the per-message chain: ``consumer_runtime.clean``). When message *i* fails in it, the batch is not
rerun wholesale: the messages before *i* run optimistically again (once; isolated if that
fails too, since a pipelined error can surface one statement late), message *i* runs alone
with its savepoint, retries and dead-lettering, and the rest starts over optimistically. One
poison message then costs three short transactions instead of its whole batch at the
isolated pace. A failure with no message to blame (at commit, in a batch handler, an unused
claim) reruns everything isolated.

Each part commits on its own. A crash between two parts redelivers the batch, whose committed
part is absorbed by ``processed_events``, as after any crash before the offset commit.

A batch has a time ``budget``: once it is spent, no further message is started and ``apply``
returns the outcomes of the messages done so far (a prefix of the batch); the processor
commits those and fetches the rest again. Together with the handler's bound, this keeps every
poll within ``max_poll_interval_ms`` (``ConsumerSettings`` derives one from the other), so a
batch of slow messages cannot get the instance thrown out of its group.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from typing import Any

from consumer_runtime.clean import CleanBatch
from consumer_runtime.delivery import Delivery, Step
from consumer_runtime.errors import Isolate
from consumer_runtime.message import HandlerContext, Message, Outcome
from consumer_runtime.optimistic import Claims, OptimisticTransaction, claimable
from consumer_runtime.options import RuntimeOptions
from consumer_runtime.ports import Plugs, Telemetry
from consumer_runtime.registry import Registration

log = logging.getLogger("consumers.processor")


class BatchApplier:
    """Built by ``runtime.build_runtime``: ``chain`` runs one message; ``clean``, when the
    group takes the clean-batch path, runs a whole clean batch without it."""

    def __init__(
        self,
        registration: Registration,
        chain: Step,
        clean: CleanBatch | None,
        plugs: Plugs,
        options: RuntimeOptions,
        telemetry: Telemetry,
        stats: Counter[str],
    ) -> None:
        self._registration = registration
        self._chain = chain
        self._clean = clean
        self._transactions = plugs.transactions
        self._clock = plugs.clock
        self._options = options
        self._telemetry = telemetry
        self._stats = stats
        self._deadline = 0.0

    @property
    def group(self) -> str:
        return self._registration.name

    def _spent(self) -> bool:
        return self._clock() >= self._deadline

    def apply(self, messages: list[Message]) -> list[Outcome]:
        """Outcomes of a prefix of ``messages``: all of them unless the budget ran out. Each
        part is counted in the stats as it commits, so a later part's outage (which rolls back
        only that part) does not lose the count of what was committed."""
        self._deadline = self._clock() + self._options.batch_budget
        if not self._options.optimistic:
            return self.isolated(messages)
        outcomes: list[Outcome] = []
        rest = messages
        while rest and not (outcomes and self._spent()):
            try:
                return outcomes + self.optimistic(rest)
            except Isolate as exc:
                self._stats["isolations"] += 1
                log.info("isolating in a batch of %d: %s", len(rest), exc)
                at = exc.at
                if at is None:
                    return outcomes + self.isolated(rest)
            if at:
                before = self._once_optimistic(rest[:at])
                outcomes += before
                if len(before) < at:
                    return outcomes  # the budget ran out before the failing message
            outcomes += self.isolated(rest[at : at + 1])
            rest = rest[at + 1 :]
        return outcomes

    def _once_optimistic(self, messages: list[Message]) -> list[Outcome]:
        try:
            return self.optimistic(messages)
        except Isolate:
            self._stats["isolations"] += 1
            return self.isolated(messages)

    def _committed(self, messages: list[Message], outcomes: list[Outcome]) -> list[Outcome]:
        self._stats.update(o.value for o in outcomes)
        self._telemetry.settled(self.group, messages, outcomes)
        return outcomes

    def _run(self, delivery: Delivery) -> Outcome:
        """The chain for one message, timed; its retries counted (even if rolled back
        later: they were attempts all the same)."""
        started = time.perf_counter()
        try:
            return self._chain(delivery)
        finally:
            self._telemetry.timed(self.group, time.perf_counter() - started)
            if delivery.attempts > 1:
                self._stats["retries"] += delivery.attempts - 1

    def isolated(self, messages: list[Message]) -> list[Outcome]:
        """One savepoint per message; stops starting messages once the budget is spent (the
        first always runs, so every batch makes progress)."""
        outcomes: list[Outcome] = []
        with self._transactions.begin() as tx:
            for m in messages:
                if outcomes and self._spent():
                    break
                outcomes.append(self._run(Delivery(m, self.group, tx)))
        return self._committed(messages[: len(outcomes)], outcomes)

    def optimistic(self, messages: list[Message]) -> list[Outcome]:
        """The whole batch in one pipelined transaction: the clean path's four loops when the
        group takes it, else the chain per message with the marks claimed up front. Raises
        ``Isolate`` (its ``at`` naming the failing message when one did)."""
        started = time.perf_counter()
        with self._transactions.begin(optimistic=True) as raw:
            if self._clean is not None:
                outcomes = self._clean.run(messages, raw)
            else:
                claims = claimable(messages, self._registration.event_types)
                marks = Claims.prefetch(raw.processed, self.group, claims)
                tx = OptimisticTransaction(raw, marks, handler_bound=self._options.handler_bound)
                outcomes = self._chained(messages, tx)
                tx.check_claims()
        if self._clean is not None:  # each message timed at its share of the batch
            share = (time.perf_counter() - started) / len(messages)
            for _ in messages:
                self._telemetry.timed(self.group, share)
        return self._committed(messages, outcomes)

    def _chained(self, messages: list[Message], tx: OptimisticTransaction) -> list[Outcome]:
        """The chain for each message; the batch form, if the handler has one, then gets the
        batch's events in one call (an isolated run always calls the per-event form)."""
        handle_batch = self._registration.handle_batch
        batch: list[tuple[Any, HandlerContext]] | None = [] if handle_batch else None
        outcomes = []
        for i, m in enumerate(messages):
            try:
                outcomes.append(self._run(Delivery(m, self.group, tx, batch=batch)))
            except Isolate as exc:
                exc.at = i
                raise
        if handle_batch is not None and batch:
            with tx.savepoint():  # a failure here is Isolate: rerun per event
                handle_batch(batch)
        return outcomes
