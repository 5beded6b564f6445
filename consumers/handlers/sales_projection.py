"""Read model: units and revenue per product per day; a cancellation reverses its order.

``sales_orders`` remembers what each order added, so a cancel can subtract exactly that. A
cancel that arrives before its order (the OrderPlaced was dead-lettered and is replayed later)
leaves a 'cancelled_first' mark, so the late OrderPlaced is not counted.
"""

from __future__ import annotations

import json
from decimal import Decimal

from consumers.events import Event, OrderCancelled, OrderPlaced
from consumers.runtime.message import HandlerContext

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


def project(event: Event, ctx: HandlerContext) -> None:
    conn = ctx.connection
    match event:
        case OrderPlaced():
            lines = [(li.sku, li.quantity, _cents(li.unit_price)) for li in event.lines]
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
