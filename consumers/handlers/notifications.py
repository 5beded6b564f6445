"""One customer notification per order event (a real system would hand it to a mailer)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence

from consumer_runtime import HandlerContext, handler
from consumers.events import Event, OrderCancelled, OrderPlaced

# One notification per event, by its key: an event that comes back after its dedup mark was
# purged (``make republish`` of an order older than the mark window) sends nothing twice.
_INSERT = (
    "INSERT INTO consumers.notifications (event_id, order_id, customer_id, kind, body) "
    "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (event_id) DO NOTHING"
)
# The batch form: the same rows in one statement, as one JSON text (json.dumps is one C call;
# psycopg dumps array parameters element by element in Python, at twice the CPU per row).
_INSERT_MANY = (
    "INSERT INTO consumers.notifications (event_id, order_id, customer_id, kind, body) "
    "SELECT (r->>0)::uuid, (r->>1)::uuid, r->>2, r->>3, r->>4 "
    "FROM jsonb_array_elements(%s::jsonb) r ON CONFLICT (event_id) DO NOTHING"
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
    batch[0][1].connection.execute(_INSERT_MANY, (json.dumps(rows, default=str),))


# No ``reset``: a notification stands for a message sent to a customer, and a rebuild would
# send every one again. ``make rebuild`` refuses this group.
@handler("notifications", batch=notify_all)
def notify(event: Event, ctx: HandlerContext) -> None:
    ctx.connection.execute(_INSERT, _notification(event))
