"""Test data builders: valid by default, each field overridable."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from consumer_runtime.message import Message
from contract import AvroCodec, SchemaRepository
from producer_app.domain.model import Order, OrderLine
from producer_app.service_layer import services

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
# The API client the builders' orders belong to.
CLIENT = "alice"


def customer() -> str:
    """A customer id no other test uses, so row counts per customer are exact."""
    return f"test-{uuid.uuid4().hex[:12]}"


def lines(n: int = 2) -> tuple[OrderLine, ...]:
    return tuple(OrderLine(f"SKU-{i:04d}", i, 250 * i) for i in range(1, n + 1))


def order(**overrides: Any) -> Order:
    fields: dict[str, Any] = {
        "order_id": uuid.uuid4(),
        "customer_id": customer(),
        "currency": "EUR",
        "lines": lines(),
        "now": NOW,
    }
    fields.update(overrides)
    return Order.place(**fields)


def place_cmd(**overrides: Any) -> services.PlaceOrder:
    fields: dict[str, Any] = {
        "customer_id": customer(),
        "currency": "EUR",
        "lines": lines(),
        "client": CLIENT,
    }
    fields.update(overrides)
    return services.PlaceOrder(**fields)


def order_payload(**overrides: Any) -> dict[str, Any]:
    """A valid POST /orders body."""
    body: dict[str, Any] = {
        "customer_id": customer(),
        "currency": "EUR",
        "sales_channel": "mobile",
        "lines": [
            {"sku": "SKU-0001", "quantity": 2, "unit_price_cents": 1999},
            {"sku": "SKU-0002", "quantity": 1, "unit_price_cents": 500},
        ],
    }
    body.update(overrides)
    return body


def placed_record(
    order_id: uuid.UUID | None = None, event_id: uuid.UUID | None = None, **overrides: Any
) -> dict[str, Any]:
    """An OrderPlaced Avro record (v2 fields; the newest version fills what it adds)."""
    record: dict[str, Any] = {
        "event_id": event_id or uuid.uuid4(),
        "order_id": order_id or uuid.uuid4(),
        "customer_id": customer(),
        "currency": "EUR",
        "lines": [
            {"sku": "SKU-0001", "quantity": 2, "unit_price": Decimal("9.99")},
            {"sku": "SKU-0002", "quantity": 1, "unit_price": Decimal("5.00")},
        ],
        "total": Decimal("24.98"),
        "placed_at": NOW,
        "sales_channel": "web",
    }
    record.update(overrides)
    return record


def cancelled_record(
    order_id: uuid.UUID, event_id: uuid.UUID | None = None, **overrides: Any
) -> dict[str, Any]:
    record: dict[str, Any] = {
        "event_id": event_id or uuid.uuid4(),
        "order_id": order_id,
        "customer_id": "c",
        "reason": "test",
        "cancelled_at": NOW,
    }
    record.update(overrides)
    return record


def kafka_message(
    record: dict[str, Any],
    event_type: str = "OrderPlaced",
    *,
    topic: str = "t",
    partition: int = 0,
    offset: int = 0,
) -> Any:
    """A consumer-side Message carrying ``record`` in Avro single-object encoding."""
    repo = SchemaRepository.load()
    value = AvroCodec(repo).encode(record, repo.get(event_type))
    headers = (("id", str(record["event_id"]).encode()), ("event_type", event_type.encode()))
    return Message(topic, partition, offset, str(record["order_id"]).encode(), value, headers)
