"""Unit of work: one database transaction around a use case.

``commit`` first publishes every event the touched aggregates raised (the outbox rows join the
same transaction), then commits. Leaving the block without ``commit`` rolls everything back, so
an order is never saved without its events, nor an event without its order.
"""

from __future__ import annotations

from types import TracebackType
from typing import Protocol, Self

from producer_app.service_layer.event_bus import EventBus
from producer_app.service_layer.idempotency import IdempotencyStore
from producer_app.service_layer.repository import OrderRepository


class UnitOfWork(Protocol):
    @property
    def orders(self) -> OrderRepository: ...

    @property
    def events(self) -> EventBus: ...

    @property
    def idempotency(self) -> IdempotencyStore: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Roll back whatever was not committed."""

    def commit(self) -> None:
        """Publish the events raised by the aggregates in ``orders.seen``, then commit."""

    def rollback(self) -> None: ...


def publish_raised_events(orders: OrderRepository, events: EventBus) -> None:
    for order in orders.seen:
        while order.events:
            events.publish(order.events.pop(0))
