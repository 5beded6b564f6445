"""Processed events: the database row that makes a handler idempotent.

``PRIMARY KEY (consumer_group, event_id)`` plus ``INSERT ... ON CONFLICT DO NOTHING`` in the
same transaction as the effect: either both commit or neither, and a second delivery (another
batch, another instance, a redelivery after a crash) finds the row and does nothing. A
concurrent insert of the same key waits for the first transaction, so there is no race.
"""

from __future__ import annotations

import uuid
from typing import Any, Protocol


class ProcessedEvents(Protocol):
    def mark(self, group: str, event_id: uuid.UUID, where: str) -> bool:
        """Record that ``group`` processed ``event_id`` in the current transaction. True the
        first time; False if already recorded (committed before, or earlier in this
        transaction). Never raises for a duplicate."""


_MARK = (
    "INSERT INTO consumers.processed_events (consumer_group, event_id, source) "
    "VALUES (%s, %s, %s) ON CONFLICT DO NOTHING"
)


class PostgresProcessedEvents:
    def __init__(self, connection: Any) -> None:
        self._conn = connection

    def mark(self, group: str, event_id: uuid.UUID, where: str) -> bool:
        cur = self._conn.execute(_MARK, (group, event_id, where))
        return bool(cur.rowcount == 1)
