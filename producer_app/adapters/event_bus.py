"""The outbox adapter of the event bus: ``publish`` writes the event into the caller's
transaction, so it reaches Kafka if and only if that transaction commits."""

from __future__ import annotations

from sqlalchemy import delete, insert
from sqlmodel import Session

from producer_app.adapters.avro_events import AGGREGATE_TYPE, EventSerializer
from producer_app.adapters.orm import OutboxRow
from producer_app.domain.events import Event
from producer_app.service_layer.messages import MessageContext

_outbox = OutboxRow.__table__  # type: ignore[attr-defined]


class OutboxEventBus:
    def __init__(
        self, session: Session, serializer: EventSerializer, context: MessageContext
    ) -> None:
        self._session = session
        self._serializer = serializer
        self._context = context
        # Event types written in this transaction, for the metrics once it commits.
        self.published: list[str] = []

    def publish(self, event: Event) -> None:
        event_type, payload = self._serializer.serialize(event)
        self._session.execute(
            insert(_outbox).values(
                id=event.event_id,
                aggregate_type=AGGREGATE_TYPE,
                aggregate_id=str(event.order_id),
                event_type=event_type,
                payload=payload,
                idempotency_key=self._context.idempotency_key,
                traceparent=self._context.traceparent,
            )
        )
        # Delete-after-insert: the INSERT is in the WAL for Debezium; the table stays empty.
        self._session.execute(delete(_outbox).where(_outbox.c.id == event.event_id))
        self.published.append(event_type)
