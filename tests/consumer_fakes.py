"""In-memory fakes of the consumer runtime's ports: a transaction with savepoints and a
processed-events store that behaves like the Postgres one (see the contract test)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from consumers.runtime.message import Delivery


class FakeProcessedEvents:
    def __init__(self, committed: set[tuple[str, uuid.UUID]]) -> None:
        self._committed = committed
        self.staged: set[tuple[str, uuid.UUID]] = set()

    def mark(self, group: str, event_id: uuid.UUID, where: str) -> bool:
        key = (group, event_id)
        if key in self._committed or key in self.staged:
            return False
        self.staged.add(key)
        return True


class FakeTransaction:
    """Effects are appended to ``effects``; a savepoint undoes those made inside it."""

    def __init__(self, db: FakeDatabase) -> None:
        self.processed = FakeProcessedEvents(db.processed)
        self.effects: list[Any] = []
        self.connection = self

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        marks, effects = set(self.processed.staged), len(self.effects)
        try:
            yield
        except BaseException:
            self.processed.staged = marks
            del self.effects[effects:]
            raise


class FakeDatabase:
    """Commits a transaction's staged marks and effects; ``fail_next`` injects an error."""

    def __init__(self) -> None:
        self.processed: set[tuple[str, uuid.UUID]] = set()
        self.effects: list[Any] = []
        self.commits = 0
        self.fail_next: list[BaseException] = []

    @contextmanager
    def begin(self) -> Iterator[FakeTransaction]:
        tx = FakeTransaction(self)
        yield tx
        if self.fail_next:
            raise self.fail_next.pop(0)
        self.processed |= tx.processed.staged
        self.effects += tx.effects
        self.commits += 1


class RecordingSink:
    def __init__(self) -> None:
        self.sent: list[tuple[Delivery, str]] = []

    def send(self, delivery: Delivery, reason: str) -> None:
        self.sent.append((delivery, reason))
