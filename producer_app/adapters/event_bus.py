"""The outbox adapter of the event bus: ``publish`` writes the event into the caller's
transaction, so it reaches Kafka if and only if that transaction commits.

Each write is a PRODUCER span (OpenTelemetry's messaging conventions: ``create`` on the topic
the outbox router will route it to); its ``traceparent`` goes into the row, so every handler's
span becomes its child. Its parent is the current span (the HTTP request's) or, outside a
traced request (the seed), the context the caller passed in ``MessageContext``."""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.trace import SpanKind, Tracer
from sqlalchemy import bindparam, delete, insert
from sqlmodel import Session

from contract import SchemaVersion
from contract.topics import ORDER_EVENTS
from contract.tracing import parent_from, traceparent_of
from producer_app.adapters.avro_events import AGGREGATE_TYPE, EventSerializer
from producer_app.adapters.orm import OutboxRow
from producer_app.domain.events import Event
from producer_app.service_layer.messages import MessageContext

_outbox = OutboxRow.__table__  # type: ignore[attr-defined]
# Built once (see adapters.repository): the same statement objects, compiled once.
_INSERT = insert(_outbox)
_DELETE = delete(_outbox).where(_outbox.c.id == bindparam("event_id"))


class OutboxEventBus:
    def __init__(
        self,
        session: Session,
        serializer: EventSerializer,
        context: MessageContext,
        tracer: Tracer | None = None,
    ) -> None:
        self._session = session
        self._tracer = tracer or trace.get_tracer(__name__)
        self._serializer = serializer
        self._context = context
        # Event types written in this transaction, for the metrics once it commits.
        self.published: list[str] = []

    def publish(self, event: Event) -> None:
        writer, payload = self._serializer.serialize(event)
        event_type = writer.event_type
        current = trace.get_current_span().get_span_context().is_valid
        with self._tracer.start_as_current_span(
            f"create {ORDER_EVENTS}",
            context=None if current else parent_from(self._context.traceparent),
            kind=SpanKind.PRODUCER,
            attributes={
                "messaging.system": "kafka",
                "messaging.operation.type": "create",
                "messaging.destination.name": ORDER_EVENTS,
                "messaging.message.id": str(event.event_id),
                "messaging.kafka.message.key": str(event.order_id),
                "outbox.event_type": event_type,
            },
        ) as span:
            self._write(event, writer, payload, traceparent_of(span))

    def _write(
        self, event: Event, writer: SchemaVersion, payload: bytes, traceparent: str | None
    ) -> None:
        self._session.execute(
            _INSERT,
            {
                "id": event.event_id,
                "aggregate_type": AGGREGATE_TYPE,
                "aggregate_id": str(event.order_id),
                "event_type": writer.event_type,
                "schema_version": writer.version,
                "payload": payload,
                "idempotency_key": self._context.idempotency_key,
                "traceparent": traceparent or self._context.traceparent,
            },
        )
        # Delete-after-insert: the INSERT is in the WAL for Debezium; the table stays empty.
        self._session.execute(_DELETE, {"event_id": event.event_id})
        self.published.append(writer.event_type)
