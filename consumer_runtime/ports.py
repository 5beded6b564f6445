"""The runtime's ports: what it needs from the outside world, each a small Protocol whose
docstrings state the contract. The adapters live apart (``consumer_runtime.adapters``:
Postgres and Kafka; the deployable's own, such as its Prometheus telemetry, in the deployable;
in-memory fakes in the tests), so nothing here imports a driver.

- ``Transactions`` / ``Transaction`` / ``BatchTransaction``: the database transaction a batch's
  effects and processed-event marks go into (``Marks`` / ``ProcessedEvents``).
- ``DeadLetterSink``: where a message that keeps failing is stored.
- ``Consumer``: the Kafka consumer the poll loop reads from (kafka-python's, in production).
- ``Telemetry``: what the processor tells the world about itself (``Quiet``: nothing).

``Plugs`` is the set of adapters a group's runtime runs on (``runtime.build_runtime``).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from consumer_runtime.message import Message, Outcome


class Marks(Protocol):
    """What the middleware marks a message with, in the batch's transaction."""

    def mark(self, group: str, event_id: uuid.UUID, where: str) -> bool:
        """Record that ``group`` processed ``event_id`` in the current transaction. True the
        first time; False if already recorded (committed before, or earlier in this
        transaction). Never raises for a duplicate."""

    def mark_dead_lettered(self, group: str, event_id: uuid.UUID, where: str) -> bool:
        """Record that the message was dead-lettered, in the current transaction. True the
        first time; False if the id is already recorded (then it must not be sent again)."""


class ProcessedEvents(Marks, Protocol):
    """The store: ``Marks`` plus claiming a whole batch up front (an optimistic batch)."""

    def mark_many(self, group: str, marks: Sequence[tuple[uuid.UUID, str]]) -> set[uuid.UUID]:
        """``mark`` for a whole batch in one round trip: the ids recorded now for the first
        time. An id listed twice is recorded once."""


class Transaction(Protocol):
    """The database transaction of one batch. Effects and processed-event marks go into it."""

    @property
    def processed(self) -> Marks: ...

    @property
    def connection(self) -> Any:
        """The driver connection handlers write their effects with (psycopg in production)."""

    def savepoint(self) -> AbstractContextManager[None]:
        """Rolls the effects inside back to it if the block raises."""

    def sync(self) -> None:
        """Make the server hold every statement sent so far and wait, idle, in the
        transaction, so its idle-in-transaction bound applies from here on. A no-op where
        statements are not deferred (see ``adapters.postgres.PostgresTransaction.sync``)."""


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


class DeadLetterSink(Protocol):
    def send(self, message: Message, group: str, reason: str) -> None:
        """Store ``message`` with ``reason`` as ``group``'s dead letter; durable when it
        returns. Raises ``Outage`` if the dead-letter store is unreachable (the batch is then
        retried, nothing is skipped); a message it cannot store as it is, it stores reduced
        (see ``adapters.dead_letters``)."""


class Consumer(Protocol):
    """The calls the poll loop makes on its Kafka consumer (kafka-python's ``KafkaConsumer``
    in production; ``tests/consumer_fakes.FakeConsumer`` in unit tests). Partitions are
    kafka-python ``TopicPartition``s; offsets commit as ``OffsetAndMetadata``."""

    def subscribe(self, topics: list[str], listener: Any = None) -> None: ...
    def partitions_for_topic(self, topic: str) -> set[int] | None: ...
    def topics(self) -> set[str]: ...
    def poll(self, timeout_ms: int, max_records: int) -> Mapping[Any, Sequence[Any]]: ...
    def assignment(self) -> set[Any]: ...
    def seek(self, partition: Any, offset: int) -> None: ...
    def pause(self, *partitions: Any) -> None: ...
    def resume(self, *partitions: Any) -> None: ...
    def commit(self, offsets: dict[Any, Any]) -> Any: ...
    def commit_async(self, offsets: dict[Any, Any]) -> Any: ...
    def highwater(self, partition: Any) -> int | None: ...
    def position(self, partition: Any, timeout_ms: int) -> int | None: ...
    def committed(self, partition: Any) -> int | None: ...
    def close(self, autocommit: bool = True) -> None: ...


@dataclass(frozen=True)
class Turn:
    """The poll loop after one turn, as health probes and gauges see it.

    ``ready``: it holds partitions and its last batch reached Postgres (no outage pending).
    ``lag``: per owned partition, the high-water mark minus the position, as this consumer
    last heard it from the broker (None when it has not fetched from that partition yet).
    ``stats``: the processor's running counters (outages, conflicts, isolations, retries,
    rebalances, rejoins, commit failures, ...), cumulative since the process started.
    ``waiting_for_schema``: owned partitions paused at an event written with a schema newer
    than this process knows (``newer_schemas``)."""

    group: str
    ready: bool
    lag: Mapping[int, int | None]
    stats: Mapping[str, int]
    waiting_for_schema: int = 0


class Telemetry(Protocol):
    """Called at the points where a fact is true, never before: a batch part's outcomes once
    its transaction committed (so ``handled`` summed over a group equals the events the
    database holds, however many rollbacks came in between), the loop's turn once it turned."""

    def clean_batches(self, group: str, on: bool, why: str) -> None:
        """Once, as the processor starts: whether the group's clean batches skip the
        per-message chain (``clean``), and why (``runtime.clean_path``)."""

    def settled(self, group: str, messages: Sequence[Message], outcomes: Sequence[Outcome]) -> None:
        """A part of a batch committed: ``outcomes[i]`` is what happened to ``messages[i]``.
        Called after the database commit only, once per committed part."""

    def timed(self, group: str, seconds: float) -> None:
        """One message went through the chain (decode, retries, handler) in ``seconds``,
        whether or not its transaction commits later. In a clean batch, each message's
        share of the batch's time."""

    def batch(self, group: str, size: int) -> None:
        """A poll returned ``size`` messages, about to be applied."""

    def committed(self, group: str) -> None:
        """Offsets were committed to Kafka (after the database commit)."""

    def turned(self, turn: Turn) -> None:
        """The poll loop turned (or waited out an outage): liveness and the gauges."""


class Quiet:
    """Telemetry that keeps nothing: the default outside ``python -m consumers``."""

    def clean_batches(self, group: str, on: bool, why: str) -> None:
        pass

    def settled(self, group: str, messages: Sequence[Message], outcomes: Sequence[Outcome]) -> None:
        pass

    def timed(self, group: str, seconds: float) -> None:
        pass

    def batch(self, group: str, size: int) -> None:
        pass

    def committed(self, group: str) -> None:
        pass

    def turned(self, turn: Turn) -> None:
        pass


@dataclass(frozen=True)
class Plugs:
    """The adapters a group's runtime runs on, and its clocks (tests pass fakes)."""

    transactions: Transactions
    dead_letters: DeadLetterSink
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
