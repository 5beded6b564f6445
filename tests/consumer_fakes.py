"""In-memory fakes of the consumer runtime's ports (``consumer_runtime.ports``): a transaction
with savepoints, a processed-events store that behaves like the Postgres one (see the contract
test), a dead-letter sink that records, and a Kafka consumer that serves prepared batches; and
``processor_for``, which builds a processor on them through ``build_runtime``, as the
deployable does."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from kafka.structs import TopicPartition

from consumer_runtime.delivery import Delivery
from consumer_runtime.handlers import EventHandler, group_registrations
from consumer_runtime.membership import Rejoin
from consumer_runtime.message import Message, Outcome
from consumer_runtime.middleware.chain import Chain
from consumer_runtime.options import RuntimeOptions
from consumer_runtime.ports import Plugs, Quiet, Telemetry
from consumer_runtime.processor import EventProcessor
from consumer_runtime.registry import Registration
from consumer_runtime.runtime import Extras, build_runtime
from consumers.events import EVENTS
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
        self.sent: list[tuple[Message, str]] = []

    def send(self, message: Message, group: str, reason: str) -> None:
        self.sent.append((message, reason))


class FakeConsumer:
    def __init__(self, batches: list[list[Message]]) -> None:
        self._batches = batches
        self.commits: list[dict[TopicPartition, int]] = []
        self.seeks: list[tuple[TopicPartition, int]] = []
        self.paused: set[TopicPartition] = set()
        self.served = 0
        # Where each partition's fetch has reached (past a transaction marker, a test moves
        # it beyond the last message + 1), and what was committed.
        self.positions: dict[TopicPartition, int] = {}
        self.committed_offsets: dict[TopicPartition, int] = {}

    def partitions_for_topic(self, topic: str) -> set[int]:
        return set(range(6))

    def topics(self) -> set[str]:
        return {"t"}

    def subscribe(self, topics: list[str], listener: Any = None) -> None:
        self.subscribed = topics

    def poll(self, timeout_ms: int, max_records: int) -> dict[TopicPartition, list[Any]]:
        if self.served >= len(self._batches):
            return {}
        batch = self._batches[self.served]
        self.served += 1
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
            tp = TopicPartition(m.topic, m.partition)
            out.setdefault(tp, []).append(record)
            self.positions[tp] = max(self.positions.get(tp, 0), m.offset + 1)
        return out

    def assignment(self) -> set[TopicPartition]:
        return {TopicPartition("t", p) for p in range(6)}

    def highwater(self, tp: TopicPartition) -> int | None:
        return None  # never fetched, as far as lag is concerned

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.seeks.append((tp, offset))
        self.positions[tp] = offset
        self.served -= 1  # the rewound batch is fetched again

    def pause(self, *tps: TopicPartition) -> None:
        self.paused |= set(tps)

    def resume(self, *tps: TopicPartition) -> None:
        self.paused -= set(tps)

    def position(self, tp: TopicPartition, timeout_ms: int) -> int | None:
        return self.positions.get(tp)

    def committed(self, tp: TopicPartition) -> int | None:
        return self.committed_offsets.get(tp)

    def commit_async(self, offsets: dict[TopicPartition, Any]) -> None:
        self.commit(offsets)

    def commit(self, offsets: dict[TopicPartition, Any]) -> None:
        self.commits.append({tp: o.offset for tp, o in offsets.items()})
        self.committed_offsets.update({tp: o.offset for tp, o in offsets.items()})

    def close(self, autocommit: bool = False) -> None:
        pass


def registered(*handlers: EventHandler[Any]) -> Registration:
    """The one group that these ``@handler`` functions make, as the deployable makes it."""
    [registration] = group_registrations(handlers, EVENTS).values()
    return registration


def processor_for(
    batches: list[list[Message]],
    db: FakeDatabase,
    handlers: EventHandler[Any] | Registration,
    sink: RecordingSink,
    *,
    attempts: int = 2,
    clean: bool = False,
    clock: Callable[[], float] = time.monotonic,
    telemetry: Telemetry | None = None,
    rejoin: Rejoin | None = None,
    consumer: FakeConsumer | None = None,
    codec: AvroCodec = CODEC,
    options: dict[str, Any] | None = None,
    **extras: Any,
) -> EventProcessor:
    """An EventProcessor over the fakes, built by ``build_runtime`` with the real chain and no
    backoff; ``extras`` as ``Extras`` names them (middleware, select, duplicate, tracer, ...),
    ``options`` as ``RuntimeOptions`` does. ``clean``: with the clean-batch path where the
    group may take it (``runtime.clean_path``)."""
    registration = handlers if isinstance(handlers, Registration) else registered(handlers)
    tuned = RuntimeOptions(
        attempts=attempts,
        backoff_base=0,
        backoff_cap=0,
        handler_bound=5,
        clean_batches=clean,
        **(options or {}),
    )
    runtime = build_runtime(
        registration,
        codec,
        Plugs(db, sink, clock=clock, sleep=lambda s: None),
        tuned,
        Extras(telemetry=telemetry or Quiet(), **extras),
    )
    return EventProcessor(runtime, consumer or FakeConsumer(batches), topic="t", rejoin=rejoin)


def chain_for(
    handlers: EventHandler[Any] | Registration,
    sink: RecordingSink | None = None,
    *,
    attempts: int = 3,
    backoff: tuple[float, float] = (0.0, 0.0),
    sleep: Callable[[float], None] = lambda s: None,
    codec: AvroCodec = CODEC,
    **extras: Any,
) -> Chain:
    """The real chain of ``handlers``' group, as ``build_runtime`` makes it (a 5 s bound);
    ``extras`` as ``Extras`` names them."""
    registration = handlers if isinstance(handlers, Registration) else registered(handlers)
    options = RuntimeOptions(
        attempts=attempts, backoff_base=backoff[0], backoff_cap=backoff[1], handler_bound=5
    )
    plugs = Plugs(FakeDatabase(), sink or RecordingSink(), sleep=sleep)
    return build_runtime(registration, codec, plugs, options, Extras(**extras)).chain


def deliver(chain: Chain, message: Message, tx: FakeTransaction | None = None) -> Outcome:
    """``message`` through ``chain`` as group ``g``, in a transaction of its own by default."""
    return chain(Delivery(message, "g", tx or FakeTransaction(FakeDatabase())))
