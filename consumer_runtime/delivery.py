"""What flows through the middleware chain: one message on its way, in its batch's
transaction, and the two shapes the chain is made of (``Step``, ``Middleware``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from consumer_runtime.message import HandlerContext, Message, Outcome
from consumer_runtime.ports import Transaction


@dataclass
class Delivery:
    """One message on its way through the chain. ``event``: set by the ``decode`` layer.
    ``batch``: set by the applier, never by a middleware, when the handler's batch form will
    run once for the whole batch; the handler step then adds the event to it instead of
    calling the per-event form."""

    message: Message
    group: str
    tx: Transaction
    event: Any = None
    attempts: int = 0
    notes: dict[str, Any] = field(default_factory=dict)
    batch: list[tuple[Any, HandlerContext]] | None = None


# A step takes a delivery and returns its outcome or raises; a middleware wraps a step.
Step = Callable[[Delivery], Outcome]
Middleware = Callable[[Step], Step]
