"""The one place that wires the producer: engine, codec, unit-of-work factory, clock.

Called from ``__main__`` (and tests) with settings built there; importing any module of the
app connects to nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from opentelemetry import trace
from opentelemetry.trace import TracerProvider
from sqlalchemy import Engine
from sqlmodel import Session, create_engine

from contract import AvroCodec, SchemaRepository
from producer_app.adapters.api_keys import SqlApiKeys
from producer_app.adapters.avro_events import EventSerializer
from producer_app.adapters.unit_of_work import SqlUnitOfWork
from producer_app.service_layer.clients import ApiKeyStore
from producer_app.service_layer.messages import MessageContext
from producer_app.service_layer.unit_of_work import UnitOfWork
from producer_app.settings import ProducerSettings


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Producer:
    settings: ProducerSettings
    engine: Engine
    uow: Callable[[MessageContext], UnitOfWork]
    clock: Callable[[], datetime]
    # None when this process was not given API_KEY_PEPPER (it then checks no key).
    keys: ApiKeyStore | None = None

    def close(self) -> None:
        self.engine.dispose()


def bootstrap(
    settings: ProducerSettings,
    *,
    schemas: SchemaRepository | None = None,
    clock: Callable[[], datetime] = utc_now,
    written: Callable[[Sequence[str]], None] = lambda event_types: None,
    tracer_provider: TracerProvider | None = None,
) -> Producer:
    """``written``: told the event types of every committed unit of work (the API's
    metrics count them). ``tracer_provider``: where the outbox writes' spans go (the
    global one, a no-op unless set, when None)."""
    tracer = trace.get_tracer("producer_app", tracer_provider=tracer_provider)
    engine = create_engine(
        settings.database_url(),
        pool_size=settings.db_pool_size,
        max_overflow=0,
        pool_pre_ping=True,
    )
    serializer = EventSerializer(AvroCodec(schemas or SchemaRepository.load()))
    ttl = timedelta(hours=settings.idempotency_ttl_hours)

    def session_factory() -> Session:
        return Session(engine, expire_on_commit=False)

    def uow(context: MessageContext) -> UnitOfWork:
        return SqlUnitOfWork(session_factory, serializer, context, ttl, written, tracer)

    pepper = settings.api_key_pepper
    keys = SqlApiKeys(engine, pepper) if pepper is not None else None
    return Producer(settings, engine, uow, clock, keys)
