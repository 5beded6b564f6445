"""The SQL unit of work: one SQLModel session (one Postgres transaction) around a use case,
with the SQL implementations of the service layer's ports."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta
from types import TracebackType
from typing import Self

from opentelemetry.trace import Tracer
from sqlmodel import Session

from producer_app.adapters.avro_events import EventSerializer
from producer_app.adapters.event_bus import OutboxEventBus
from producer_app.adapters.idempotency import SqlIdempotencyStore
from producer_app.adapters.repository import SqlOrderRepository
from producer_app.service_layer.event_bus import EventBus
from producer_app.service_layer.idempotency import IdempotencyStore
from producer_app.service_layer.messages import MessageContext
from producer_app.service_layer.repository import OrderRepository
from producer_app.service_layer.unit_of_work import publish_raised_events


class SqlUnitOfWork:
    def __init__(
        self,
        session_factory: Callable[[], Session],
        serializer: EventSerializer,
        context: MessageContext,
        idempotency_ttl: timedelta,
        written: Callable[[Sequence[str]], None] = lambda event_types: None,
        tracer: Tracer | None = None,
    ) -> None:
        self._session_factory = session_factory
        self._serializer = serializer
        self._context = context
        self._ttl = idempotency_ttl
        self._written = written
        self._tracer = tracer

    def __enter__(self) -> Self:
        self.session = self._session_factory()
        self._orders = SqlOrderRepository(self.session)
        self.orders: OrderRepository = self._orders
        self._bus = OutboxEventBus(self.session, self._serializer, self._context, self._tracer)
        self.events: EventBus = self._bus
        self.idempotency: IdempotencyStore = SqlIdempotencyStore(self.session, self._ttl)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.rollback()
        self.session.close()

    def commit(self) -> None:
        publish_raised_events(self.orders, self.events)
        self._orders.save_changes()
        self.session.commit()
        self._written(self._bus.published)  # told only what a commit made durable
        self._bus.published = []

    def rollback(self) -> None:
        self.session.rollback()
