"""Domain event -> Avro record of the newest schema version of its type.

The producer always writes the newest version; consumers resolve it to the version they were
built against. Amounts leave the domain as integer cents and go on the wire as Avro decimals.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from contract import AvroCodec, SchemaVersion
from producer_app.domain.events import Event, OrderCancelled, OrderPlaced

AGGREGATE_TYPE = "order"  # -> topic outbox.event.order


def _money(cents: int) -> Decimal:
    return Decimal(cents).scaleb(-2)


def to_record(event: Event) -> dict[str, Any]:
    match event:
        case OrderPlaced():
            return {
                "event_id": event.event_id,
                "order_id": event.order_id,
                "customer_id": event.customer_id,
                "currency": event.currency,
                "lines": [
                    {
                        "sku": li.sku,
                        "quantity": li.quantity,
                        "unit_price": _money(li.unit_price_cents),
                    }
                    for li in event.lines
                ],
                "total": _money(event.total_cents),
                "placed_at": event.placed_at,
                "sales_channel": event.sales_channel,
                "item_count": sum(li.quantity for li in event.lines),
            }
        case OrderCancelled():
            return {
                "event_id": event.event_id,
                "order_id": event.order_id,
                "customer_id": event.customer_id,
                "reason": event.reason,
                "cancelled_at": event.cancelled_at,
            }


class EventSerializer:
    """Knows, per event class, its wire name and the writer schema (resolved once)."""

    def __init__(self, codec: AvroCodec) -> None:
        self._codec = codec
        self._writers: dict[type, SchemaVersion] = {
            cls: codec.repository.get(cls.__name__) for cls in (OrderPlaced, OrderCancelled)
        }

    def serialize(self, event: Event) -> tuple[SchemaVersion, bytes]:
        """(writer schema, single-object encoded payload)."""
        writer = self._writers[type(event)]
        return writer, self._codec.encode(to_record(event), writer)
