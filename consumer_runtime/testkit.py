"""A test kit for your handlers: run one against a real Postgres with a list of events and
no Kafka, through the very runtime the consumer groups use, built by the same function
(``runtime.build_runtime``): the middleware chain, the clean-batch path a handler with a
batch form takes, optimistic and isolated batches, ``processed_events``, retries, dead
letters collected in memory.

    harness = Harness(settings.conninfo("loyalty"), REGISTRY["loyalty"])
    harness.deliver([placed, cancelled])              # one poll batch
    harness.deliver([placed, cancelled], twice=True)  # every event redelivered
    harness.crash_between_commits([placed])           # database committed, offsets not
    compare_forms(conninfo, REGISTRY["loyalty"], events, read_back, rng=random.Random(7))

A Kafka consumer that crashes after its database commit and before its offset commit is
given the same batch again; ``crash_between_commits`` does exactly that, so a handler whose
effect is not idempotent shows it twice. With pytest, a deployable's plugin offers a
``handler_harness`` fixture (``consumers.pytest_plugin``). Each call returns the outcomes
of what it delivered.

A handler with a batch form (``@handler(..., batch=...)``) must leave the database exactly as
its per-event form does; ``compare_forms`` applies the same events both ways, in transactions
it rolls back, and returns what ``read_back`` saw after each.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, TypeVar

import psycopg

from consumer_runtime.adapters.postgres import PostgresTransactions
from consumer_runtime.message import HandlerContext, Message
from consumer_runtime.options import RuntimeOptions
from consumer_runtime.ports import Plugs
from consumer_runtime.registry import Registration
from consumer_runtime.runtime import Runtime, build_runtime
from contract import AvroCodec, SchemaRepository
from contract import headers as h

TOPIC = "testkit"
Seen = TypeVar("Seen")


@dataclass
class CollectedDeadLetters:
    """The dead-letter sink of the kit: what would have gone to ``dlq.<group>``."""

    sent: list[tuple[Message, str]] = field(default_factory=list)

    def send(self, message: Message, group: str, reason: str) -> None:
        self.sent.append((message, reason))


class Harness:
    """``options``: the runtime's (``RuntimeOptions``); the kit waits for no retry backoff."""

    def __init__(
        self, conninfo: str, registration: Registration, options: RuntimeOptions | None = None
    ) -> None:
        self.registration = registration
        self.dead_letters = CollectedDeadLetters()
        self._codec = AvroCodec(SchemaRepository.load())
        options = replace(options or RuntimeOptions(), backoff_base=0.0, backoff_cap=0.0)
        self._transactions = PostgresTransactions(conninfo, options.handler_bound)
        plugs = Plugs(self._transactions, self.dead_letters, sleep=lambda s: None)
        self.runtime: Runtime = build_runtime(registration, self._codec, plugs, options)
        self.stats: Counter[str] = self.runtime.stats
        self._offset = 0

    def messages(self, events: Iterable[Any]) -> list[Message]:
        """The events as Debezium's router writes them: Avro single-object encoding, key =
        order id, headers ``id`` and ``event_type``; offsets follow on from the last call."""
        out = []
        catalog = self.registration.events
        for event in events:
            event_type, record = catalog.to_record(event)
            reader = self._codec.repository.get(event_type, catalog.reader_versions[event_type])
            value = self._codec.encode(record, reader)
            headers = h.encode_headers({h.EVENT_ID: str(event.event_id), h.EVENT_TYPE: event_type})
            key = str(event.order_id).encode()
            out.append(Message(TOPIC, 0, self._offset, key, value, tuple(headers)))
            self._offset += 1
        return out

    def apply(self, messages: Sequence[Message]) -> Counter[str]:
        """One poll batch: the outcomes of its messages (all of them: no time budget here)."""
        done = self.runtime.applier.apply(list(messages))
        assert len(done) == len(messages), "the batch budget ran out in a test"
        return Counter(o.value for o in done)

    def deliver(self, events: Sequence[Any], *, twice: bool = False) -> Counter[str]:
        messages = self.messages(events)
        outcomes = self.apply(messages)
        if twice:
            outcomes += self.apply(messages)
        return outcomes

    def crash_between_commits(self, events: Sequence[Any]) -> tuple[Counter[str], Counter[str]]:
        """The batch is applied and committed; the offsets are not, so after the restart the
        same batch comes again. Returns the outcomes of both runs: the second must be all
        duplicates (or dead letters already marked)."""
        messages = self.messages(events)
        return self.apply(messages), self.apply(messages)

    def close(self) -> None:
        self._transactions.close()


class _RolledBack(Exception):
    pass


def _rolled_back(
    conninfo: str,
    setup: Callable[[psycopg.Connection[Any]], None] | None,
    run: Callable[[psycopg.Connection[Any]], None],
    read_back: Callable[[psycopg.Connection[Any]], Seen],
    *,
    optimistic: bool,
) -> Seen:
    """``run`` then ``read_back`` inside one transaction that is always rolled back, so the
    comparison leaves nothing behind and sees no other run's rows. ``optimistic``: pipelined,
    as the runtime's optimistic batch (where batch forms run) sends statements."""
    transactions = PostgresTransactions(conninfo, RuntimeOptions().handler_bound)
    seen: list[Seen] = []
    try:
        with transactions.begin(optimistic=optimistic) as tx:
            if setup is not None:
                setup(tx.connection)
            run(tx.connection)
            seen.append(read_back(tx.connection))
            raise _RolledBack
    except _RolledBack:
        return seen[0]
    finally:
        transactions.close()


def compare_forms(
    conninfo: str,
    registration: Registration,
    events: Sequence[Any],
    read_back: Callable[[psycopg.Connection[Any]], Seen],
    *,
    rng: random.Random,
    setup: Callable[[psycopg.Connection[Any]], None] | None = None,
) -> tuple[Seen, Seen]:
    """``(per_event, batched)``: what ``read_back`` saw after ``events`` went through the
    per-event form one at a time, and through the batch form in random consecutive batches
    (so a later batch meets the rows of an earlier one, as on a real topic). ``setup`` runs
    first in both transactions (say, stock made scarce). Assert the two are equal."""
    handle_batch = registration.handle_batch
    if handle_batch is None:
        raise ValueError(f"{registration.name} has no batch form to compare")
    if not events:
        raise ValueError("no events: nothing would be compared")
    message = Message(TOPIC, 0, 0, None, None, ())
    now = datetime.now(UTC)

    def ctx(conn: psycopg.Connection[Any]) -> HandlerContext:
        return HandlerContext(conn, registration.name, message, now)

    def one_by_one(conn: psycopg.Connection[Any]) -> None:
        for event in events:
            registration.handle(event, ctx(conn))

    cuts = sorted(rng.sample(range(1, len(events)), min(len(events) - 1, rng.randint(1, 3))))
    parts = [events[a:b] for a, b in zip([0, *cuts], [*cuts, len(events)], strict=True)]

    def batched(conn: psycopg.Connection[Any]) -> None:
        for part in parts:
            handle_batch([(event, ctx(conn)) for event in part])

    return (
        _rolled_back(conninfo, setup, one_by_one, read_back, optimistic=False),
        _rolled_back(conninfo, setup, batched, read_back, optimistic=True),
    )
