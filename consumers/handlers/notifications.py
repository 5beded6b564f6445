"""One customer notification per order event (a real system would hand it to a mailer)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from consumers.events import Event, OrderCancelled, OrderPlaced
from consumers.runtime.handlers import handler
from consumers.runtime.message import HandlerContext

# One notification per event, by its key: an event that comes back after its dedup mark was
# purged (``make republish`` of an order older than the mark window) sends nothing twice.
_INSERT = (
    "INSERT INTO consumers.notifications (event_id, order_id, customer_id, kind, body) "
    "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (event_id) DO NOTHING"
)
# The batch form: the same rows in one statement.
_INSERT_MANY = (
    "INSERT INTO consumers.notifications (event_id, order_id, customer_id, kind, body) "
    "SELECT * FROM unnest(%s::uuid[], %s::uuid[], %s::text[], %s::text[], %s::text[]) "
    "ON CONFLICT (event_id) DO NOTHING"
)


def _notification(event: Event) -> tuple[uuid.UUID, uuid.UUID, str, str, str]:
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
    return event.event_id, event.order_id, event.customer_id, kind, body


def notify_all(batch: Sequence[tuple[Event, HandlerContext]]) -> None:
    """``notify`` for each event of the batch, as one INSERT."""
    rows = [_notification(event) for event, _ in batch]
    batch[0][1].connection.execute(
        _INSERT_MANY, [list(column) for column in zip(*rows, strict=True)]
    )


# No ``reset``: a notification stands for a message sent to a customer, and a rebuild would
# send every one again. ``make rebuild`` refuses this group.
@handler("notifications", batch=notify_all)
def notify(event: Event, ctx: HandlerContext) -> None:
    ctx.connection.execute(_INSERT, _notification(event))
