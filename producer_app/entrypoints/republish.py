"""``make republish``: write the chosen orders' events to the outbox again, from the orders
table (the source of truth), through the same unit of work and event bus as the API.

Why this and not Debezium's incremental snapshot: the outbox rows are deleted in the
transaction that inserts them, so a snapshot of ``orders.outbox`` finds nothing, and a
snapshot of ``orders.orders`` would publish table rows, not the events the consumers read.
Raising the events again through the producer's own code gives the same schemas, headers
and, since event ids are derived from the order (``domain.events.event_id``), the same ids:
a group that already applied an event skips it as a duplicate; a new or rebuilt group gets
the whole history, however long ago Kafka dropped it.

Orders go in chunks, one transaction each, oldest first; a failure leaves the chunks before
it published, and running the same command again is harmless (duplicates).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from producer_app.bootstrap import Producer
from producer_app.service_layer import services
from producer_app.service_layer.messages import MessageContext, new_traceparent

CHUNK = 200


class Unknown(Exception):
    """The selection names no order (unknown ids, an empty time range): nothing was written."""


@dataclass(frozen=True)
class Republished:
    orders: int
    events: int
    legacy_skipped: int
    started_at: datetime  # before the first write: a group reset to it reads only these
    seconds: float

    def summary(self) -> str:
        skipped = (
            f"; skipped {self.legacy_skipped} orders placed before event ids were derived "
            "(their events had random ids: again they would be new events to every group, "
            "confirmations sent twice; --legacy includes them, for a new group only)"
            if self.legacy_skipped
            else ""
        )
        return (
            f"republish {self.orders} orders, {self.events} events in {self.seconds:.1f}s; "
            f"a group rebuilt from them alone: make rebuild GROUP=... "
            f"SINCE={self.started_at.isoformat()}{skipped}"
        )


def republish(
    producer: Producer,
    *,
    order_ids: list[uuid.UUID] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    legacy: bool = False,
    show_progress: bool = True,
) -> Republished:
    """``order_ids`` or the orders placed in ``[since, until)``; both None: every order.
    Raises ``Unknown`` before writing anything when an id matches no order, or when a time
    range holds none."""
    context = MessageContext(None, new_traceparent())  # one trace for the whole re-publish
    started_at, t0 = datetime.now(UTC), time.monotonic()
    if order_ids is None:
        order_ids = services.order_ids_placed(since, until, producer.uow(context))
        if not order_ids and (since or until):
            raise Unknown(
                f"no order was placed between {since.isoformat() if since else 'the start'} "
                f"and {until.isoformat() if until else 'now'} (SINCE=, UNTIL=)"
            )
    else:
        missing = services.unknown_order_ids(order_ids, producer.uow(context))
        if missing:
            shown = ", ".join(str(i) for i in missing[:3])
            more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
            raise Unknown(f"IDS (--ids): no order {shown}{more}; nothing was re-published")
    orders = events = skipped = 0
    with Progress(
        TextColumn("republishing"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        disable=not show_progress,
    ) as progress:
        task = progress.add_task("orders", total=len(order_ids))
        for i in range(0, len(order_ids), CHUNK):
            chunk = tuple(order_ids[i : i + CHUNK])
            done = services.republish_orders(
                services.RepublishOrders(chunk, legacy), producer.uow(context)
            )
            orders, events = orders + done.orders, events + done.events
            skipped += done.legacy_skipped
            progress.advance(task, len(chunk))
    return Republished(orders, events, skipped, started_at, time.monotonic() - t0)
