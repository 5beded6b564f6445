"""In-memory fakes of the consumer runtime's ports: a transaction with savepoints, a
processed-events store that behaves like the Postgres one (see the contract test), and a Kafka
consumer that serves prepared batches."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from kafka.structs import TopicPartition

from consumers.events import OrderCancelled, OrderPlaced
from consumers.runtime.bound import Overruns
from consumers.runtime.chain import build_chain, clean_batch
from consumers.runtime.message import Delivery, Message
from consumers.runtime.processor import EventProcessor
from consumers.runtime.registry import Registration
from contract import AvroCodec, SchemaRepository

CODEC = AvroCodec(SchemaRepository.load())


class FakeProcessedEvents:
    def __init__(self, committed: set[tuple[str, uuid.UUID]]) -> None:
        self._committed = committed
        self.staged: set[tuple[str, uuid.UUID]] = set()
        self.dead: set[tuple[str, uuid.UUID]] = set()

    def mark(self, group: str, event_id: uuid.UUID, where: str) -> bool:
        key = (group, event_id)
        if key in self._committed or key in self.staged:
            return False
        self.staged.add(key)
        return True

    def mark_many(self, group: str, marks: Sequence[tuple[uuid.UUID, str]]) -> set[uuid.UUID]:
        return {event_id for event_id, where in marks if self.mark(group, event_id, where)}

    def mark_dead_lettered(self, group: str, event_id: uuid.UUID, where: str) -> bool:
        if self.mark(group, event_id, where):
            self.dead.add((group, event_id))
            return True
        return False


class FakeTransaction:
    """Effects are appended to ``effects``; a savepoint undoes those made inside it."""

    def __init__(self, db: FakeDatabase) -> None:
        self.processed = FakeProcessedEvents(db.processed)
        self.effects: list[Any] = []
        self.connection = self

    def sync(self) -> None:
        self.syncs = getattr(self, "syncs", 0) + 1

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        marks, effects = set(self.processed.staged), len(self.effects)
        self.depth = getattr(self, "depth", 0) + 1
        try:
            yield
        except BaseException:
            self.processed.staged = marks
            del self.effects[effects:]
            raise
        finally:
            self.depth -= 1


class FakeDatabase:
    """Commits a transaction's staged marks and effects; ``fail_next`` injects an error."""

    def __init__(self) -> None:
        self.processed: set[tuple[str, uuid.UUID]] = set()
        self.dead_lettered: set[tuple[str, uuid.UUID]] = set()
        self.effects: list[Any] = []
        self.commits = 0
        self.fail_next: list[BaseException] = []

    @contextmanager
    def begin(self, *, optimistic: bool = False) -> Iterator[FakeTransaction]:
        tx = FakeTransaction(self)
        yield tx
        if self.fail_next:
            raise self.fail_next.pop(0)
        self.processed |= tx.processed.staged
        self.dead_lettered |= tx.processed.dead & tx.processed.staged
        self.effects += tx.effects
        self.commits += 1


class RecordingSink:
    def __init__(self) -> None:
        self.sent: list[tuple[Delivery, str]] = []

    def send(self, delivery: Delivery, reason: str) -> None:
        self.sent.append((delivery, reason))


class FakeConsumer:
    def __init__(self, batches: list[list[Message]]) -> None:
        self._batches = batches
        self.commits: list[dict[TopicPartition, int]] = []
        self.seeks: list[tuple[TopicPartition, int]] = []
        self.paused: set[TopicPartition] = set()
        self.position = 0

    def partitions_for_topic(self, topic: str) -> set[int]:
        return set(range(6))

    def topics(self) -> set[str]:
        return {"t"}

    def subscribe(self, topics: list[str], listener: Any = None) -> None:
        self.subscribed = topics

    def poll(self, timeout_ms: int, max_records: int) -> dict[TopicPartition, list[Any]]:
        if self.position >= len(self._batches):
            return {}
        batch = self._batches[self.position]
        self.position += 1
        out: dict[TopicPartition, list[Any]] = {}
        for m in batch:
            record = type(
                "R",
                (),
                {
                    "topic": m.topic,
                    "partition": m.partition,
                    "offset": m.offset,
                    "key": m.key,
                    "value": m.value,
                    "headers": list(m.headers),
                    "timestamp": m.timestamp_ms,
                },
            )
            out.setdefault(TopicPartition(m.topic, m.partition), []).append(record)
        return out

    def assignment(self) -> set[TopicPartition]:
        return {TopicPartition("t", p) for p in range(6)}

    def highwater(self, tp: TopicPartition) -> int | None:
        return None  # never fetched, as far as lag is concerned

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.seeks.append((tp, offset))
        self.position -= 1  # the rewound batch is fetched again

    def pause(self, *tps: TopicPartition) -> None:
        self.paused |= set(tps)

    def resume(self, *tps: TopicPartition) -> None:
        self.paused -= set(tps)

    def commit(self, offsets: dict[TopicPartition, Any]) -> None:
        self.commits.append({tp: o.offset for tp, o in offsets.items()})

    def close(self, autocommit: bool = False) -> None:
        pass


def processor_for(
    batches: list[list[Message]],
    db: FakeDatabase,
    handle: Callable[[Any, Any], None],
    sink: RecordingSink,
    *,
    attempts: int = 2,
    duplicate: bool = False,
    select: Callable[[Message], bool] | None = None,
    batch: Callable[[Any], None] | None = None,
    clock: Callable[[], float] | None = None,
    clean: bool = False,
    event_types: Sequence[type[Any]] = (OrderPlaced, OrderCancelled),
    middleware: Sequence[Any] = (),
    tracer: Any = None,
    **options: Any,
) -> EventProcessor:
    """An EventProcessor over fakes with the real chain; ``options`` go to the processor.
    ``clean``: with the clean-batch path where the chain allows one (``chain.clean_batch``)."""
    registration = Registration.of("g", handle, *event_types, batch=batch)
    overruns = Overruns(attempts)
    chain = build_chain(
        registration,
        CODEC,
        sink,
        attempts=attempts,
        base=0,
        cap=0,
        timeout_s=5,
        duplicate=duplicate,
        sleep=lambda s: None,
        select=select,
        middleware=middleware,
        tracer=tracer,
        overruns=overruns,
    )
    fast = clean_batch(
        registration,
        CODEC,
        overruns,
        duplicate=duplicate,
        select=select,
        middleware=middleware,
        tracer=tracer,
    )
    return EventProcessor(
        registration,
        consumer=FakeConsumer(batches),
        topic="t",
        transactions=db,
        chain=chain,
        sleep=lambda s: None,
        clock=clock or time.monotonic,
        clean=fast if clean else None,
        **options,
    )
