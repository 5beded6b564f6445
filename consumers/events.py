"""The consumers' own view of the events, built from the reader schemas they were built
against (OrderPlaced v2, OrderCancelled v1). Frozen and past tense, like the producer's, but
not shared with it: each side owns its model, the Avro schemas are the contract."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from consumer_runtime.events import EventCatalog

# Reader schema version per event type: what this deployable was built and tested against.
READER_VERSIONS = {"OrderPlaced": 2, "OrderCancelled": 1}


@dataclass(frozen=True)
class Line:
    sku: str
    quantity: int
    unit_price: Decimal


@dataclass(frozen=True)
class OrderPlaced:
    event_id: uuid.UUID
    order_id: uuid.UUID
    customer_id: str
    currency: str
    lines: tuple[Line, ...]
    total: Decimal
    placed_at: datetime
    sales_channel: str


@dataclass(frozen=True)
class OrderCancelled:
    event_id: uuid.UUID
    order_id: uuid.UUID
    customer_id: str
    reason: str
    cancelled_at: datetime


Event = OrderPlaced | OrderCancelled
EVENT_TYPES: dict[str, type[OrderPlaced] | type[OrderCancelled]] = {
    "OrderPlaced": OrderPlaced,
    "OrderCancelled": OrderCancelled,
}


def from_record(event_type: str, record: dict[str, Any]) -> Event:
    """Avro record (already resolved to the reader schema) -> event."""
    if event_type == "OrderPlaced":
        return OrderPlaced(
            event_id=record["event_id"],
            order_id=record["order_id"],
            customer_id=record["customer_id"],
            currency=record["currency"],
            lines=tuple(
                Line(li["sku"], li["quantity"], li["unit_price"]) for li in record["lines"]
            ),
            total=record["total"],
            placed_at=record["placed_at"],
            sales_channel=record["sales_channel"],
        )
    if event_type == "OrderCancelled":
        return OrderCancelled(
            event_id=record["event_id"],
            order_id=record["order_id"],
            customer_id=record["customer_id"],
            reason=record["reason"],
            cancelled_at=record["cancelled_at"],
        )
    raise KeyError(event_type)


def to_record(event: Event) -> tuple[str, dict[str, Any]]:
    """event -> (event type, Avro record for its reader schema): ``from_record`` inverted, for
    the test kit (``consumer_runtime.testkit``) that feeds events to a handler without Kafka."""
    if isinstance(event, OrderPlaced):
        lines = [
            {"sku": li.sku, "quantity": li.quantity, "unit_price": li.unit_price}
            for li in event.lines
        ]
        fields = {k: getattr(event, k) for k in OrderPlaced.__dataclass_fields__ if k != "lines"}
        return "OrderPlaced", {**fields, "lines": lines}
    fields = {k: getattr(event, k) for k in OrderCancelled.__dataclass_fields__}
    return "OrderCancelled", fields


# This deployable's events, as the runtime reads them (``consumer_runtime.events``).
EVENTS = EventCatalog(EVENT_TYPES, READER_VERSIONS, from_record, to_record)
