"""Read model: units and revenue per product per day; a cancellation reverses its order.

``sales_orders`` remembers what each order added, so a cancel can subtract exactly that. A
cancel that arrives before its order (the OrderPlaced was dead-lettered and is replayed later)
leaves a 'cancelled_first' mark, so the late OrderPlaced is not counted: it turns the mark into
'reversed' (the order recorded, its lines never added).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from consumer_runtime import HandlerContext, handler
from consumers.events import Event, OrderCancelled, OrderPlaced

_ADD = """
    INSERT INTO consumers.sales_daily AS d (day, sku, currency, units, revenue_cents)
    VALUES (%s, %s, %s, %s, %s)
    ON CONFLICT (day, sku, currency) DO UPDATE
    SET units = d.units + EXCLUDED.units, revenue_cents = d.revenue_cents + EXCLUDED.revenue_cents
"""


# One statement, nothing to read back (so it pipelines): the order is recorded as counted and
# its lines added, unless a 'cancelled_first' mark holds its id, in which case the INSERT
# returns no row and nothing is added.
_COUNT = """
    WITH counted AS (
        INSERT INTO consumers.sales_orders (order_id, day, currency, status, lines)
        VALUES (%s, %s, %s, 'counted', %s) ON CONFLICT (order_id) DO NOTHING
        RETURNING day, currency
    )
    INSERT INTO consumers.sales_daily AS d (day, sku, currency, units, revenue_cents)
    SELECT c.day, l.sku, c.currency, sum(l.qty), sum(l.qty * l.price)
    FROM counted c, unnest(%s::text[], %s::int[], %s::bigint[]) AS l(sku, qty, price)
    GROUP BY c.day, l.sku, c.currency
    ON CONFLICT (day, sku, currency) DO UPDATE
    SET units = d.units + EXCLUDED.units, revenue_cents = d.revenue_cents + EXCLUDED.revenue_cents
"""


def _cents(amount: Decimal) -> int:
    return int(amount.scaleb(2))


# The batch statements take their rows as one JSON text (json.dumps is one C call; psycopg
# dumps array parameters element by element in Python, at twice the CPU per row).
_LOCK = (
    "SELECT order_id, day, currency, status, lines FROM consumers.sales_orders "
    "WHERE order_id IN (SELECT jsonb_array_elements_text(%s::jsonb)::uuid) "
    "ORDER BY order_id FOR UPDATE"
)
_INSERT_ORDERS = (
    "INSERT INTO consumers.sales_orders (order_id, day, currency, status, lines) "
    "SELECT (r->>0)::uuid, (r->>1)::date, r->>2, r->>3, r->4 FROM jsonb_array_elements(%s::jsonb) r"
)
_REVERSE = "UPDATE consumers.sales_orders SET status = 'reversed' WHERE order_id = ANY(%s)"
# The order a cancel came first for has arrived: recorded, never counted.
_LATE_PLACE = (
    "UPDATE consumers.sales_orders SET status = 'reversed', day = %s, currency = %s, "
    "lines = %s WHERE order_id = %s AND status = 'cancelled_first'"
)
_LATE_PLACES = (
    "UPDATE consumers.sales_orders s SET status = 'reversed', day = d.day, "
    "currency = d.currency, lines = d.lines "
    "FROM unnest(%s::uuid[], %s::date[], %s::text[], %s::jsonb[]) AS d(order_id, day, "
    "currency, lines) WHERE s.order_id = d.order_id AND s.status = 'cancelled_first'"
)
_ADD_MANY = """
    INSERT INTO consumers.sales_daily AS d (day, sku, currency, units, revenue_cents)
    SELECT (r->>0)::date, r->>1, r->>2, (r->>3)::bigint, (r->>4)::bigint
    FROM jsonb_array_elements(%s::jsonb) r
    ON CONFLICT (day, sku, currency) DO UPDATE
    SET units = d.units + EXCLUDED.units, revenue_cents = d.revenue_cents + EXCLUDED.revenue_cents
"""


@dataclass
class SalesOrder:
    """A ``sales_orders`` row as the batch form keeps it in memory while deciding the batch."""

    day: Any
    currency: str | None
    status: str
    lines: list[Any]


def project_all(batch: Sequence[tuple[Event, HandlerContext]]) -> None:
    """``project`` for each event of the batch, in order, in four statements."""
    conn = batch[0][1].connection
    ids = json.dumps(sorted({str(event.order_id) for event, _ in batch}))
    known = {r[0]: SalesOrder(*r[1:]) for r in conn.execute(_LOCK, (ids,)).fetchall()}
    new: dict[uuid.UUID, SalesOrder] = {}
    reversed_ids: list[uuid.UUID] = []
    late: dict[uuid.UUID, SalesOrder] = {}
    deltas: dict[tuple[Any, str, str], list[int]] = {}

    def add(order: SalesOrder, sign: int) -> None:
        for sku, qty, price in order.lines:
            d = deltas.setdefault((order.day, sku, str(order.currency)), [0, 0])
            d[0] += sign * qty
            d[1] += sign * qty * price

    for event, _ in batch:
        row = new.get(event.order_id) or known.get(event.order_id)
        match event:
            case OrderPlaced() if row is None:
                lines = [[li.sku, li.quantity, _cents(li.unit_price)] for li in event.lines]
                placed = SalesOrder(event.placed_at.date(), event.currency, "counted", lines)
                new[event.order_id] = placed
                add(placed, +1)
            case OrderPlaced() if row is not None and row.status == "cancelled_first":
                row.day, row.currency, row.status = (
                    event.placed_at.date(),
                    event.currency,
                    "reversed",
                )
                row.lines = [[li.sku, li.quantity, _cents(li.unit_price)] for li in event.lines]
                if event.order_id not in new:
                    late[event.order_id] = row
            case OrderCancelled() if row is None:
                new[event.order_id] = SalesOrder(None, None, "cancelled_first", [])
            case OrderCancelled() if row is not None and row.status == "counted":
                add(row, -1)
                row.status = "reversed"
                if event.order_id not in new:
                    reversed_ids.append(event.order_id)
    if new:
        rows = [[oid, o.day, o.currency, o.status, o.lines] for oid, o in new.items()]
        conn.execute(_INSERT_ORDERS, (json.dumps(rows, default=str),))
    if reversed_ids:
        conn.execute(_REVERSE, (reversed_ids,))
    if late:
        late_rows = [(oid, o.day, o.currency, json.dumps(o.lines)) for oid, o in late.items()]
        conn.execute(_LATE_PLACES, [list(c) for c in zip(*late_rows, strict=True)])
    if deltas:
        # In key order: two instances adding to the same days and SKUs lock them in the same
        # order and queue, instead of deadlocking (measured: 3 instances ran at 0.09x of one).
        adds = [[*key, units, cents] for key, (units, cents) in sorted(deltas.items())]
        conn.execute(_ADD_MANY, (json.dumps(adds, default=str),))


# A pure read model: empty both tables and it is rebuilt by replaying the events.
RESET = ("DELETE FROM consumers.sales_daily", "DELETE FROM consumers.sales_orders")


@handler("sales-projection", batch=project_all, reset=RESET)
def project(event: Event, ctx: HandlerContext) -> None:
    conn = ctx.connection
    match event:
        case OrderPlaced():
            lines = [(li.sku, li.quantity, _cents(li.unit_price)) for li in event.lines]
            day = event.placed_at.date()
            conn.execute(_LATE_PLACE, (day, event.currency, json.dumps(lines), event.order_id))
            conn.execute(
                _COUNT,
                (
                    event.order_id,
                    event.placed_at.date(),
                    event.currency,
                    json.dumps(lines),
                    [sku for sku, _, _ in lines],
                    [qty for _, qty, _ in lines],
                    [price for _, _, price in lines],
                ),
            )
        case OrderCancelled():
            row = conn.execute(
                "SELECT day, currency, status, lines FROM consumers.sales_orders "
                "WHERE order_id = %s FOR UPDATE",
                (event.order_id,),
            ).fetchone()
            if row is None:
                conn.execute(
                    "INSERT INTO consumers.sales_orders (order_id, status) "
                    "VALUES (%s, 'cancelled_first')",
                    (event.order_id,),
                )
                return
            day, currency, status, lines = row
            if status != "counted":
                return
            with conn.cursor() as c:
                c.executemany(
                    _ADD, [(day, sku, currency, -qty, -qty * price) for sku, qty, price in lines]
                )
            conn.execute(
                "UPDATE consumers.sales_orders SET status = 'reversed' WHERE order_id = %s",
                (event.order_id,),
            )


# The batch form: lock the batch's known orders at once, replay the events in order in memory,
# then write new orders, reversals and the summed daily deltas in three statements.
