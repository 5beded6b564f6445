"""Test data builders: valid by default, each field overridable."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from producer_app.domain.model import Order, OrderLine
from producer_app.service_layer import services

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


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
    fields: dict[str, Any] = {"customer_id": customer(), "currency": "EUR", "lines": lines()}
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
