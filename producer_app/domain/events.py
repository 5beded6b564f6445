"""Domain events: frozen, past tense, facts that already happened.

They carry what a consumer needs to act without calling back (event-carried state transfer),
and nothing about transport: bytes, headers and topics belong to the adapters.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
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
    event_id: uuid.UUID = field(default_factory=uuid.uuid4)


@dataclass(frozen=True)
class OrderCancelled:
    order_id: uuid.UUID
    customer_id: str
    reason: str
    cancelled_at: datetime
    event_id: uuid.UUID = field(default_factory=uuid.uuid4)


Event = OrderPlaced | OrderCancelled
