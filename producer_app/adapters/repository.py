"""The SQLModel implementation of the service layer's ``OrderRepository`` port."""

from __future__ import annotations

import uuid

from sqlalchemy import insert, update
from sqlmodel import Session, col, select

from producer_app.adapters.orm import OrderLineRow, OrderRow
from producer_app.domain.model import Order, OrderLine, OrderStatus

_orders = OrderRow.__table__  # type: ignore[attr-defined]
_lines = OrderLineRow.__table__  # type: ignore[attr-defined]


class SqlOrderRepository:
    """Writes with Core statements (one INSERT for the order, one multi-row INSERT for its
    lines): the ORM's flush bookkeeping cost more CPU per order than Postgres' commit did."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self.seen: list[Order] = []
        self._loaded: set[uuid.UUID] = set()

    def add(self, order: Order) -> None:
        self._session.execute(
            insert(_orders).values(
                id=order.id,
                customer_id=order.customer_id,
                currency=order.currency,
                status=order.status.value,
                total_cents=order.total_cents,
                sales_channel=order.sales_channel,
                placed_at=order.placed_at,
            )
        )
        self._session.execute(
            insert(_lines).values(
                [
                    {
                        "order_id": order.id,
                        "line_no": i,
                        "sku": line.sku,
                        "quantity": line.quantity,
                        "unit_price_cents": line.unit_price_cents,
                    }
                    for i, line in enumerate(order.lines, start=1)
                ]
            )
        )
        self.seen.append(order)

    def get(self, order_id: uuid.UUID, *, for_update: bool = False) -> Order | None:
        query = select(OrderRow).where(OrderRow.id == order_id)
        if for_update:
            query = query.with_for_update()
        row = self._session.exec(query).first()
        if row is None:
            return None
        lines = self._session.exec(
            select(OrderLineRow)
            .where(OrderLineRow.order_id == order_id)
            .order_by(col(OrderLineRow.line_no))
        ).all()
        order = Order(
            id=row.id,
            customer_id=row.customer_id,
            currency=row.currency,
            lines=tuple(OrderLine(li.sku, li.quantity, li.unit_price_cents) for li in lines),
            status=OrderStatus(row.status),
            placed_at=row.placed_at,
            sales_channel=row.sales_channel,
            cancelled_at=row.cancelled_at,
            cancel_reason=row.cancel_reason,
        )
        self._loaded.add(order.id)
        self.seen.append(order)
        return order

    def save_changes(self) -> None:
        """Write back the mutable state of the aggregates loaded in this unit of work."""
        for order in self.seen:
            if order.id in self._loaded:
                self._session.execute(
                    update(_orders)
                    .where(_orders.c.id == order.id)
                    .values(
                        status=order.status.value,
                        cancelled_at=order.cancelled_at,
                        cancel_reason=order.cancel_reason,
                    )
                )
