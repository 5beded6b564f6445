"""Processed events: the database row that makes a handler idempotent.

``PRIMARY KEY (consumer_group, event_id)`` plus ``INSERT ... ON CONFLICT DO NOTHING`` in the
same transaction as the effect: either both commit or neither, and a second delivery (another
batch, another instance, a redelivery after a crash) finds the row and does nothing. A
concurrent insert of the same key waits for the first transaction, so there is no race.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, Protocol


class ProcessedEvents(Protocol):
    def mark(self, group: str, event_id: uuid.UUID, where: str) -> bool:
        """Record that ``group`` processed ``event_id`` in the current transaction. True the
        first time; False if already recorded (committed before, or earlier in this
        transaction). Never raises for a duplicate."""

    def mark_many(self, group: str, marks: Sequence[tuple[uuid.UUID, str]]) -> set[uuid.UUID]:
        """``mark`` for a whole batch in one round trip: the ids recorded now for the first
        time. An id listed twice is recorded once."""


_MARK = (
    "INSERT INTO consumers.processed_events (consumer_group, event_id, source) "
    "VALUES (%s, %s, %s) ON CONFLICT DO NOTHING"
)


# One statement for a batch: unnest the arrays, skip what is there, say what is new.
_MARK_MANY = (
    "INSERT INTO consumers.processed_events (consumer_group, event_id, source) "
    "SELECT %s, e.id, e.source FROM unnest(%s::uuid[], %s::text[]) AS e(id, source) "
    "ON CONFLICT DO NOTHING RETURNING event_id"
)


class PostgresProcessedEvents:
    def __init__(self, connection: Any) -> None:
        self._conn = connection

    def mark(self, group: str, event_id: uuid.UUID, where: str) -> bool:
        cur = self._conn.execute(_MARK, (group, event_id, where))
        return bool(cur.rowcount == 1)

    def mark_many(self, group: str, marks: Sequence[tuple[uuid.UUID, str]]) -> set[uuid.UUID]:
        if not marks:
            return set()
        ids, sources = [m[0] for m in marks], [m[1] for m in marks]
        rows = self._conn.execute(_MARK_MANY, (group, ids, sources)).fetchall()
        return {row[0] for row in rows}
