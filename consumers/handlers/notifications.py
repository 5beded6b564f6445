"""One customer notification per order event (a real system would hand it to a mailer)."""

from __future__ import annotations

from consumers.events import Event, OrderCancelled, OrderPlaced
from consumers.runtime.message import HandlerContext


def notify(event: Event, ctx: HandlerContext) -> None:
    match event:
        case OrderPlaced():
            kind = "order_confirmation"
            body = (
                f"Thank you! Order {event.order_id} for {event.total} {event.currency} "
                f"({sum(li.quantity for li in event.lines)} items) is confirmed."
            )
        case OrderCancelled():
            kind = "cancellation"
            body = f"Order {event.order_id} was cancelled: {event.reason}."
    ctx.connection.execute(
        "INSERT INTO consumers.notifications (event_id, order_id, customer_id, kind, body) "
        "VALUES (%s, %s, %s, %s, %s)",
        (event.event_id, event.order_id, event.customer_id, kind, body),
    )
