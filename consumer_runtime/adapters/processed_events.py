"""Processed events in Postgres: the adapter of the ``ProcessedEvents`` port
(``consumer_runtime.ports``), the database row that makes a handler idempotent.

``PRIMARY KEY (consumer_group, event_id)`` plus ``INSERT ... ON CONFLICT DO NOTHING`` in the
same transaction as the effect: either both commit or neither, and a second delivery (another
batch, another instance, a redelivery after a crash) finds the row and does nothing. A
concurrent insert of the same key waits for the first transaction, so there is no race.

A dead-lettered message leaves a row too (``outcome = 'dead_lettered'``), written in the
transaction of the batch whose offsets move past it: a redelivery is then a duplicate, not a
second dead letter. A dead-letter replay (``revive_dead_letters``) may claim such a row once
more, turning it into 'handled' with the effect; nothing else may.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from typing import Any

_HANDLED = "ON CONFLICT DO NOTHING"
# A replay of dead letters may run an event whose only mark is its dead-lettering.
_REVIVED = (
    "ON CONFLICT (consumer_group, event_id) DO UPDATE SET outcome = 'handled', "
    "source = EXCLUDED.source, processed_at = now() "
    "WHERE processed_events.outcome = 'dead_lettered'"
)
_MARK = (
    "INSERT INTO consumers.processed_events (consumer_group, event_id, source) VALUES (%s, %s, %s) "
)
# One statement for a batch: skip what is there, say what is new. The rows travel as one JSON
# text ([[id, source], ...]): json.dumps is one C call, where psycopg dumps a uuid[] and a
# text[] parameter element by element in Python (twice the CPU per row, measured).
_MARK_MANY = (
    "INSERT INTO consumers.processed_events (consumer_group, event_id, source) "
    "SELECT %s, (e->>0)::uuid, e->>1 FROM jsonb_array_elements(%s::jsonb) AS e "
)
_MARK_DEAD = (
    "INSERT INTO consumers.processed_events (consumer_group, event_id, source, outcome) "
    "VALUES (%s, %s, %s, 'dead_lettered') "
)
# A replay that fails again appends the message to the dead-letter topic again: its old copy
# there is behind the replay's committed offset.
_DEAD_AGAIN = (
    "ON CONFLICT (consumer_group, event_id) DO UPDATE SET source = EXCLUDED.source, "
    "processed_at = now() WHERE processed_events.outcome = 'dead_lettered'"
)


class PostgresProcessedEvents:
    def __init__(self, connection: Any, *, revive_dead_letters: bool = False) -> None:
        self._conn = connection
        conflict = _REVIVED if revive_dead_letters else _HANDLED
        self._mark = _MARK + conflict
        self._mark_many = _MARK_MANY + conflict + " RETURNING event_id"
        self._mark_dead = _MARK_DEAD + (_DEAD_AGAIN if revive_dead_letters else _HANDLED)

    def mark(self, group: str, event_id: uuid.UUID, where: str) -> bool:
        cur = self._conn.execute(self._mark, (group, event_id, where))
        return bool(cur.rowcount == 1)

    def mark_many(self, group: str, marks: Sequence[tuple[uuid.UUID, str]]) -> set[uuid.UUID]:
        if not marks:
            return set()
        # One row per id: DO UPDATE (a replay) may not touch a row twice in one statement.
        first = dict(reversed(marks))
        rows_json = json.dumps([[str(event_id), where] for event_id, where in first.items()])
        rows = self._conn.execute(self._mark_many, (group, rows_json)).fetchall()
        return {row[0] for row in rows}

    def mark_dead_lettered(self, group: str, event_id: uuid.UUID, where: str) -> bool:
        cur = self._conn.execute(self._mark_dead, (group, event_id, where))
        return bool(cur.rowcount == 1)
