"""A test kit for your handlers: run one against a real Postgres with a list of events and
no Kafka, through the very runtime the consumer groups use (middleware chain, optimistic and
isolated batches, ``processed_events``, retries, dead letters collected in memory).

    harness = Harness(settings.conninfo(), REGISTRY["loyalty"])
    harness.deliver([placed, cancelled])              # one poll batch
    harness.deliver([placed, cancelled], twice=True)  # every event redelivered
    harness.crash_between_commits([placed])           # database committed, offsets not

A Kafka consumer that crashes after its database commit and before its offset commit is
given the same batch again; ``crash_between_commits`` does exactly that, so a handler whose
effect is not idempotent shows it twice. With pytest, ``consumers.pytest_plugin`` offers a
``handler_harness`` fixture. Each call returns the outcomes of what it delivered.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from consumers.events import READER_VERSIONS, Event, to_record
from consumers.runtime.applier import BatchApplier
from consumers.runtime.chain import build_chain
from consumers.runtime.message import Delivery, Message
from consumers.runtime.postgres import PostgresTransactions
from consumers.runtime.registry import Registration
from contract import AvroCodec, SchemaRepository
from contract import headers as h

TOPIC = "testkit"


@dataclass
class CollectedDeadLetters:
    """The dead-letter sink of the kit: what would have gone to ``dlq.<group>``."""

    sent: list[tuple[Message, str]] = field(default_factory=list)

    def send(self, delivery: Delivery, reason: str) -> None:
        self.sent.append((delivery.message, reason))


class Harness:
    def __init__(
        self,
        conninfo: str,
        registration: Registration,
        *,
        bound_seconds: float = 10.0,
        attempts: int = 3,
        optimistic: bool = True,
    ) -> None:
        self.registration = registration
        self.dead_letters = CollectedDeadLetters()
        self._codec = AvroCodec(SchemaRepository.load())
        self._transactions = PostgresTransactions(conninfo, int(bound_seconds * 1000))
        chain = build_chain(
            registration,
            self._codec,
            self.dead_letters,
            attempts=attempts,
            base=0.0,
            cap=0.0,
            timeout_s=bound_seconds,
        )
        self.stats: Counter[str] = Counter()
        self._applier = BatchApplier(
            registration,
            self._transactions,
            chain,
            self.stats,
            optimistic=optimistic,
            bound=bound_seconds,
        )
        self._offset = 0

    def messages(self, events: Iterable[Event]) -> list[Message]:
        """The events as Debezium's router writes them: Avro single-object encoding, key =
        order id, headers ``id`` and ``event_type``; offsets follow on from the last call."""
        out = []
        for event in events:
            event_type, record = to_record(event)
            reader = self._codec.repository.get(event_type, READER_VERSIONS[event_type])
            value = self._codec.encode(record, reader)
            headers = h.encode_headers({h.EVENT_ID: str(event.event_id), h.EVENT_TYPE: event_type})
            key = str(event.order_id).encode()
            out.append(Message(TOPIC, 0, self._offset, key, value, tuple(headers)))
            self._offset += 1
        return out

    def apply(self, messages: Sequence[Message]) -> Counter[str]:
        """One poll batch: the outcomes of its messages (all of them: no time budget here)."""
        done = self._applier.apply(list(messages))
        assert len(done) == len(messages), "the batch budget ran out in a test"
        return Counter(o.value for o in done)

    def deliver(self, events: Sequence[Event], *, twice: bool = False) -> Counter[str]:
        messages = self.messages(events)
        outcomes = self.apply(messages)
        if twice:
            outcomes += self.apply(messages)
        return outcomes

    def crash_between_commits(self, events: Sequence[Event]) -> tuple[Counter[str], Counter[str]]:
        """The batch is applied and committed; the offsets are not, so after the restart the
        same batch comes again. Returns the outcomes of both runs: the second must be all
        duplicates (or dead letters already marked)."""
        messages = self.messages(events)
        return self.apply(messages), self.apply(messages)

    def close(self) -> None:
        self._transactions.close()
