"""The JSON view of an order that the API returns and Idempotency-Key replays store."""

from __future__ import annotations

from typing import Any

from producer_app.domain.model import Order


def order_view(order: Order) -> dict[str, Any]:
    return {
        "id": str(order.id),
        "customer_id": order.customer_id,
        "currency": order.currency,
        "status": order.status.value,
        "sales_channel": order.sales_channel,
        "lines": [
            {"sku": li.sku, "quantity": li.quantity, "unit_price_cents": li.unit_price_cents}
            for li in order.lines
        ],
        "total_cents": order.total_cents,
        "placed_at": order.placed_at.isoformat(),
        "cancelled_at": order.cancelled_at.isoformat() if order.cancelled_at else None,
        "cancel_reason": order.cancel_reason,
    }
