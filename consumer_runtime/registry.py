"""Registrations: a handler under its group name, as the runtime runs it (made from
``@handler`` functions by ``handlers.group_registrations``). The name is the Kafka consumer
group id.

Renaming a handler starts a new consumer group with no committed offsets: it re-reads the
topic from the earliest retained message and applies everything again to its tables (its
processed_events rows are under the old name too). Rename on purpose, never by accident.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from consumer_runtime.delivery import Middleware
from consumer_runtime.events import EventCatalog
from consumer_runtime.message import HandlerContext

# (event, context) -> None; raises on failure. The event is ``Any`` here because a handler is
# typed for its own event types (``OrderPlaced``, a union...) and the runtime only ever hands
# it those: ``handlers`` reads them off the annotation.
Handle = Callable[[Any, HandlerContext], None]
# The same effect for several events at once, in delivery order (see ``Registration``).
HandleBatch = Callable[[Sequence[tuple[Any, HandlerContext]]], None]


@dataclass(frozen=True)
class Registration:
    """A handler under its group name. ``handle`` is the contract: one event, return or raise.
    ``events``: the deployable's catalog the event types are names in.
    ``handle_batch``, optional, must have exactly the effect of calling ``handle`` on each
    event in order (a test per handler checks it against the database); the runtime uses it
    for a clean optimistic batch and falls back to ``handle``, one savepoint each, whenever
    anything in the batch fails. Worth it when the effect is set-shaped (one INSERT ... SELECT
    FROM unnest for the batch instead of a statement per event)."""

    name: str
    handle: Handle
    event_types: frozenset[str]
    events: EventCatalog
    handle_batch: HandleBatch | None = None
    # This handler's own middleware (Watermill's handler.AddMiddleware), inside the processor's:
    # see ``consumer_runtime.middleware`` for where both sit among the guarantees.
    middleware: tuple[Middleware, ...] = ()
    # SQL that empties the group's read model for ``make rebuild`` (``ops.rebuild``); empty
    # when the handler has effects outside its tables (a message sent cannot be unsent).
    reset: tuple[str, ...] = ()
