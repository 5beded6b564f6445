"""Handler registrations. The name is the Kafka consumer group id.

Renaming a handler starts a new consumer group with no committed offsets: it re-reads the
topic from the earliest retained message and applies everything again to its tables (its
processed_events rows are under the old name too). Rename on purpose, never by accident.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from consumers.events import Event


@dataclass(frozen=True)
class Registration:
    name: str
    handle: Callable[[Any, Any], None]  # (event, HandlerContext) -> None; raises on failure
    event_types: frozenset[str]

    @classmethod
    def of(
        cls, name: str, handle: Callable[[Any, Any], None], *event_types: type[Event]
    ) -> Registration:
        return cls(name, handle, frozenset(t.__name__ for t in event_types))
