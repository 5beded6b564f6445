"""The SQLModel implementation of the service layer's ``OrderRepository`` port."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import insert, update
from sqlmodel import Session, col, select

from producer_app.adapters.orm import OrderLineRow, OrderRow
from producer_app.domain.model import Order, OrderLine, OrderStatus

_orders = OrderRow.__table__  # type: ignore[attr-defined]
_lines = OrderLineRow.__table__  # type: ignore[attr-defined]
# Built once, the values passed apart: the statement, and so its compiled form in the
# engine's cache, is the same object every time (``insert().values(...)`` per call built a
# new statement and its cache key per order, and one shape per line count).
_INSERT_ORDER = insert(_orders)
_INSERT_LINES = insert(_lines)


class SqlOrderRepository:
    """Writes with Core statements (one INSERT for the order, one multi-row INSERT for its
    lines): the ORM's flush bookkeeping cost more CPU per order than Postgres' commit did."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self.seen: list[Order] = []
        # What each loaded order's mutable state was, so only a change is written back.
        self._loaded: dict[uuid.UUID, tuple[object, ...]] = {}

    def add(self, order: Order) -> None:
        self._session.execute(
            _INSERT_ORDER,
            {
                "id": order.id,
                "customer_id": order.customer_id,
                "currency": order.currency,
                "status": order.status.value,
                "total_cents": order.total_cents,
                "sales_channel": order.sales_channel,
                "placed_at": order.placed_at,
                "event_ids_derived": True,
                "client": order.client,
            },
        )
        # A list of parameter sets: one multi-row INSERT (SQLAlchemy's insertmanyvalues).
        self._session.execute(
            _INSERT_LINES,
            [
                {
                    "order_id": order.id,
                    "line_no": i,
                    "sku": line.sku,
                    "quantity": line.quantity,
                    "unit_price_cents": line.unit_price_cents,
                }
                for i, line in enumerate(order.lines, start=1)
            ],
        )
        self.seen.append(order)

    def get(self, order_id: uuid.UUID, *, for_update: bool = False) -> Order | None:
        query = select(OrderRow).where(OrderRow.id == order_id)
        if for_update:
            query = query.with_for_update()
        row = self._session.exec(query).first()
        return None if row is None else self._loaded_order(row, self._lines_of([order_id]))

    def get_many(self, order_ids: Sequence[uuid.UUID]) -> list[Order]:
        rows = self._session.exec(
            select(OrderRow).where(col(OrderRow.id).in_(order_ids)).with_for_update(read=True)
        ).all()
        lines = self._lines_of([row.id for row in rows])
        by_id = {row.id: row for row in rows}
        return [self._loaded_order(by_id[i], lines) for i in order_ids if i in by_id]

    def ids_placed(self, since: datetime | None, until: datetime | None) -> list[uuid.UUID]:
        query = select(OrderRow.id)
        if since is not None:
            query = query.where(OrderRow.placed_at >= since)
        if until is not None:
            query = query.where(OrderRow.placed_at < until)
        return list(self._session.exec(query.order_by(col(OrderRow.placed_at), col(OrderRow.id))))

    def _lines_of(self, order_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[OrderLineRow]]:
        found: dict[uuid.UUID, list[OrderLineRow]] = {i: [] for i in order_ids}
        for line in self._session.exec(
            select(OrderLineRow)
            .where(col(OrderLineRow.order_id).in_(order_ids))
            .order_by(col(OrderLineRow.order_id), col(OrderLineRow.line_no))
        ):
            found[line.order_id].append(line)
        return found

    def _loaded_order(self, row: OrderRow, lines: dict[uuid.UUID, list[OrderLineRow]]) -> Order:
        order = Order(
            id=row.id,
            customer_id=row.customer_id,
            currency=row.currency,
            lines=tuple(
                OrderLine(li.sku, li.quantity, li.unit_price_cents) for li in lines[row.id]
            ),
            status=OrderStatus(row.status),
            placed_at=row.placed_at,
            sales_channel=row.sales_channel,
            cancelled_at=row.cancelled_at,
            cancel_reason=row.cancel_reason,
            event_ids_derived=row.event_ids_derived,
            client=row.client,
        )
        self._loaded[order.id] = _mutable(order)
        self.seen.append(order)
        return order

    def save_changes(self) -> None:
        """Write back the mutable state of the aggregates loaded in this unit of work."""
        for order in self.seen:
            if order.id in self._loaded and self._loaded[order.id] != _mutable(order):
                self._session.execute(
                    update(_orders)
                    .where(_orders.c.id == order.id)
                    .values(
                        status=order.status.value,
                        cancelled_at=order.cancelled_at,
                        cancel_reason=order.cancel_reason,
                    )
                )


def _mutable(order: Order) -> tuple[object, ...]:
    return (order.status, order.cancelled_at, order.cancel_reason)
