"""What flows through the middleware chain: the raw Kafka message, its decoded event, and
the transaction the effect goes into."""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import psycopg

from consumers.events import Event
from consumers.runtime.store import Marks, ProcessedEvents


@dataclass(frozen=True)
class Message:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes | None], ...]
    timestamp_ms: int = 0

    @classmethod
    def of(cls, record: Any) -> Message:
        """From a kafka-python ``ConsumerRecord`` (headers may be None, timestamp -1/None)."""
        return cls(
            record.topic,
            record.partition,
            record.offset,
            record.key,
            record.value,
            tuple(record.headers or ()),
            record.timestamp or 0,
        )

    def header(self, name: str) -> str | None:
        for k, v in self.headers:
            if k == name and v is not None:
                return v.decode("utf-8", "replace")
        return None

    @property
    def where(self) -> str:
        return f"{self.topic}[{self.partition}]@{self.offset}"


class Transaction(Protocol):
    """The database transaction of one batch. Effects and processed-event marks go into it."""

    @property
    def processed(self) -> Marks: ...

    @property
    def connection(self) -> Any:
        """The driver connection handlers write their effects with (psycopg in production)."""

    def savepoint(self) -> Any:
        """A context manager: rolls the effects inside back to it if the block raises."""

    def sync(self) -> None:
        """Make the server hold every statement sent so far and wait, idle, in the
        transaction, so its idle-in-transaction bound applies from here on. A no-op where
        statements are not deferred (see ``PostgresTransaction.sync``)."""


class BatchTransaction(Transaction, Protocol):
    """The transaction a batch opens, as the applier sees it: the whole store, so that an
    optimistic batch can claim every mark up front."""

    @property
    def processed(self) -> ProcessedEvents: ...


class Transactions(Protocol):
    def begin(self, *, optimistic: bool = False) -> AbstractContextManager[BatchTransaction]:
        """A batch transaction: committed when the block ends, rolled back if it raises.
        ``optimistic``: the driver may defer statements (pipelining); an error it reports
        late, one that is neither ``Outage`` nor ``BatchConflict``, is raised as ``Isolate``."""


class Outcome(enum.Enum):
    """What happened to one message; the values are the processor's stats keys."""

    HANDLED = "handled"
    DUPLICATE = "duplicate"
    DEAD_LETTERED = "dead_lettered"
    IGNORED = "ignored"  # a known event type this handler does not subscribe to

    @classmethod
    def settled(cls, stats: Mapping[str, int]) -> int:
        """How many messages got an outcome, from stats keyed by outcome values."""
        return sum(stats.get(o.value, 0) for o in cls)


@dataclass
class Delivery:
    """One message on its way through the chain. ``batch``: set by the applier, never by a
    middleware, when the handler's batch form will run once for the whole batch; the handler
    step then adds the event to it instead of calling the per-event form."""

    message: Message
    group: str
    tx: Transaction
    event: Event | None = None
    attempts: int = 0
    notes: dict[str, Any] = field(default_factory=dict)
    batch: list[tuple[Event, HandlerContext]] | None = None


@dataclass(frozen=True)
class HandlerContext:
    """What a handler gets next to the event: the connection whose transaction its effect
    goes into (never commit or roll back on it: the runtime does, with the offsets), its
    group, the Kafka message it came in (topic, partition, offset, key, headers) and the
    time the runtime handed it over."""

    connection: psycopg.Connection[Any]
    group: str
    message: Message
    now: datetime

    @property
    def headers(self) -> dict[str, str]:
        """The message's headers as strings (a null value left out)."""
        return {k: v.decode("utf-8", "replace") for k, v in self.message.headers if v is not None}


# A step takes a delivery and returns its outcome or raises; a middleware wraps a step.
Step = Callable[[Delivery], Outcome]
Middleware = Callable[[Step], Step]
