"""Domain events: frozen, past tense, facts that already happened.

They carry what a consumer needs to act without calling back (event-carried state transfer),
and nothing about transport: bytes, headers and topics belong to the adapters.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class PlacedLine:
    sku: str
    quantity: int
    unit_price_cents: int


@dataclass(frozen=True)
class OrderPlaced:
    order_id: uuid.UUID
    customer_id: str
    currency: str
    lines: tuple[PlacedLine, ...]
    total_cents: int
    placed_at: datetime
    sales_channel: str
    event_id: uuid.UUID


@dataclass(frozen=True)
class OrderCancelled:
    order_id: uuid.UUID
    customer_id: str
    reason: str
    cancelled_at: datetime
    event_id: uuid.UUID


Event = OrderPlaced | OrderCancelled

# An event's id is a function of its order and its type (an order is placed once and
# cancelled at most once), never drawn at random: re-publishing an order's history gives each
# event the id it was first published with, so a group that applied it skips it as a
# duplicate. The namespace is fixed forever; changing it would make every event new again.
EVENT_ID_NAMESPACE = uuid.UUID("6f1c0b52-8c1e-4b7e-9a55-0d5e2f3a7c11")


def event_id(order_id: uuid.UUID, event_type: str) -> uuid.UUID:
    return uuid.uuid5(EVENT_ID_NAMESPACE, f"{order_id}/{event_type}")
