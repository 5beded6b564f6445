"""Use cases. Each runs in one unit of work: domain change, events and idempotency result
commit together or not at all. Services never build outbox rows, bytes, headers or HTTP
statuses: they return a domain ``Result`` and the entrypoint maps it."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from producer_app.domain.model import LegacyEventIds, Order, OrderLine
from producer_app.service_layer.idempotency import IdempotencyRequest
from producer_app.service_layer.results import Change, Result
from producer_app.service_layer.unit_of_work import UnitOfWork
from producer_app.service_layer.views import order_view

Clock = Callable[[], datetime]


class OrderNotFound(Exception):
    def __init__(self, order_id: uuid.UUID) -> None:
        super().__init__(f"no order {order_id}")
        self.order_id = order_id


@dataclass(frozen=True)
class PlaceOrder:
    """``client``: the API client placing it, the only one that may read or cancel it later
    (None: a tool's order, which no client may)."""

    customer_id: str
    currency: str
    lines: tuple[OrderLine, ...]
    sales_channel: str = "web"
    order_id: uuid.UUID = field(default_factory=uuid.uuid4)
    idempotency: IdempotencyRequest | None = None
    client: str | None = None


@dataclass(frozen=True)
class CancelOrder:
    """Cancelled only for the ``client`` that placed the order; for any other, there is no
    such order."""

    order_id: uuid.UUID
    reason: str
    client: str
    idempotency: IdempotencyRequest | None = None


def place_order(cmd: PlaceOrder, uow: UnitOfWork, clock: Clock) -> Result:
    with uow:
        if cmd.idempotency and (prior := uow.idempotency.claim(cmd.idempotency)):
            return prior
        order = Order.place(
            order_id=cmd.order_id,
            customer_id=cmd.customer_id,
            currency=cmd.currency,
            lines=cmd.lines,
            now=clock(),
            sales_channel=cmd.sales_channel,
            client=cmd.client,
        )
        uow.orders.add(order)
        result = Result(Change.PLACED, order_view(order))
        if cmd.idempotency:
            uow.idempotency.save(cmd.idempotency, result)
        uow.commit()
        return result


def cancel_order(cmd: CancelOrder, uow: UnitOfWork, clock: Clock) -> Result:
    with uow:
        if cmd.idempotency and (prior := uow.idempotency.claim(cmd.idempotency)):
            return prior
        order = uow.orders.get(cmd.order_id, for_update=True)
        if order is None or not order.placed_by(cmd.client):
            raise OrderNotFound(cmd.order_id)
        order.cancel(reason=cmd.reason, now=clock())
        result = Result(Change.CANCELLED, order_view(order))
        if cmd.idempotency:
            uow.idempotency.save(cmd.idempotency, result)
        uow.commit()
        return result


@dataclass(frozen=True)
class RepublishOrders:
    """Raise these orders' histories again (``Order.republish``), in one transaction.
    ``legacy``: also orders whose first events had random ids (see ``Order.republish``)."""

    order_ids: tuple[uuid.UUID, ...]
    legacy: bool = False


@dataclass(frozen=True)
class Republished:
    orders: int
    events: int
    legacy_skipped: int  # orders placed before event ids were derived, left out


def republish_orders(cmd: RepublishOrders, uow: UnitOfWork) -> Republished:
    """Ids that match no order are left out, and so are legacy orders unless asked for."""
    with uow:
        orders = uow.orders.get_many(cmd.order_ids)
        skipped = 0
        for order in orders:
            try:
                order.republish(legacy=cmd.legacy)
            except LegacyEventIds:
                skipped += 1
        raised = sum(len(order.events) for order in orders)
        uow.commit()
        return Republished(len(orders) - skipped, raised, skipped)


def unknown_order_ids(order_ids: list[uuid.UUID], uow: UnitOfWork) -> list[uuid.UUID]:
    """The ids among ``order_ids`` that name no order, in the order given."""
    with uow:
        found = {order.id for order in uow.orders.get_many(order_ids)}
    return [i for i in order_ids if i not in found]


def order_ids_placed(
    since: datetime | None, until: datetime | None, uow: UnitOfWork
) -> list[uuid.UUID]:
    with uow:
        return uow.orders.ids_placed(since, until)


def get_order(order_id: uuid.UUID, client: str, uow: UnitOfWork) -> dict[str, object]:
    """The order's view, for the client that placed it; any other gets ``OrderNotFound``."""
    with uow:
        order = uow.orders.get(order_id)
        if order is None or not order.placed_by(client):
            raise OrderNotFound(order_id)
        return order_view(order)
