"""``reconcile``: each group's read model against what the orders table implies, in SQL.

The orders table is the source of truth; every handler's tables must be what its events, all
applied once, make of it. Each check is a query returning the keys that break it (an order id,
a SKU, a day/SKU/currency), so the verb can say how many and show some. The chaos checker and
the end-to-end tests count the same queries (``chaos.checks``), so an operator's drift alarm
and the tests' definition of "correct" cannot diverge.

A group still behind on the topic shows its pending events as differences: compare with its
lag (the verb prints it) or run once ``make lag MAX_LAG=0`` passes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import psycopg


@dataclass(frozen=True)
class Check:
    group: str
    name: str
    sql: str  # rows of one text column: the keys that break the check


CHECKS = (
    # Every order has exactly one confirmation; every cancelled order exactly one cancellation.
    Check(
        "notifications",
        "notifications",
        """SELECT o.id::text FROM orders.orders o
           WHERE (SELECT count(*) FROM consumers.notifications n
                  WHERE n.order_id = o.id AND n.kind = 'order_confirmation') <> 1
              OR (SELECT count(*) FROM consumers.notifications n
                  WHERE n.order_id = o.id AND n.kind = 'cancellation')
                 <> (o.status = 'cancelled')::int""",
    ),
    # No effect without a committed order.
    Check(
        "notifications",
        "notifications without order",
        """SELECT n.order_id::text FROM consumers.notifications n
           WHERE NOT EXISTS (SELECT 1 FROM orders.orders o WHERE o.id = n.order_id)""",
    ),
    # Units and revenue of the orders that stand, per day, SKU and currency.
    Check(
        "sales-projection",
        "sales projection",
        """WITH expected AS (
               SELECT (o.placed_at AT TIME ZONE 'UTC')::date AS day, l.sku, o.currency::text,
                      sum(l.quantity) AS units, sum(l.quantity * l.unit_price_cents) AS revenue
               FROM orders.orders o JOIN orders.order_lines l ON l.order_id = o.id
               WHERE o.status = 'placed' GROUP BY 1, 2, 3
           ), actual AS (
               SELECT day, sku, currency, units, revenue_cents AS revenue
               FROM consumers.sales_daily WHERE units <> 0 OR revenue_cents <> 0
           )
           SELECT concat_ws(' ', day, sku, currency)
           FROM expected e FULL OUTER JOIN actual a USING (day, sku, currency)
           WHERE e.units IS DISTINCT FROM a.units OR e.revenue IS DISTINCT FROM a.revenue""",
    ),
    Check(
        "sales-projection",
        "effects without order",
        """SELECT s.order_id::text FROM consumers.sales_orders s
           WHERE NOT EXISTS (SELECT 1 FROM orders.orders o WHERE o.id = s.order_id)""",
    ),
    # A cancel applied before its place leaves a mark until the place arrives.
    Check(
        "sales-projection",
        "cancel before place",
        "SELECT order_id::text FROM consumers.sales_orders WHERE status = 'cancelled_first'",
    ),
    # Each order has its reservation outcome, matching its status and its lines.
    Check(
        "inventory",
        "reservations",
        """SELECT o.id::text FROM orders.orders o
           LEFT JOIN consumers.reservations r ON r.order_id = o.id
           WHERE r.order_id IS NULL
              OR (o.status = 'placed' AND r.status NOT IN ('reserved', 'rejected'))
              OR (o.status = 'cancelled' AND r.status NOT IN ('released', 'rejected'))
              OR (r.status IN ('reserved', 'released') AND r.lines <> (
                   SELECT jsonb_agg(jsonb_build_array(l.sku, l.quantity) ORDER BY l.sku)
                   FROM orders.order_lines l WHERE l.order_id = o.id))""",
    ),
    # Reserved stock equals the sum of the reservations that hold it.
    Check(
        "inventory",
        "reserved stock",
        """SELECT s.sku FROM consumers.stock s
           WHERE s.reserved <> COALESCE((
               SELECT sum((line->>1)::bigint) FROM consumers.reservations r,
                      jsonb_array_elements(r.lines) AS line
               WHERE r.status = 'reserved' AND line->>0 = s.sku), 0)""",
    ),
    Check(
        "inventory",
        "effects without order",
        """SELECT r.order_id::text FROM consumers.reservations r
           WHERE NOT EXISTS (SELECT 1 FROM orders.orders o WHERE o.id = r.order_id)""",
    ),
    Check(
        "inventory",
        "cancel before place",
        "SELECT order_id::text FROM consumers.reservations WHERE status = 'cancelled_first'",
    ),
)


def counting(name: str) -> str:
    """One query counting every check called ``name`` (over all groups)."""
    parts = [f"(SELECT count(*) FROM ({c.sql}) AS d)" for c in CHECKS if c.name == name]
    return "SELECT " + " + ".join(parts)


@dataclass
class Difference:
    group: str
    check: str
    count: int
    examples: list[str] = field(default_factory=list)


def reconcile(
    conn: psycopg.Connection[Any], groups: list[str] | None = None, examples: int = 5
) -> list[Difference]:
    """Every check of ``groups`` (all by default) in one snapshot; only broken ones returned."""
    found = []
    with conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        for check in CHECKS:
            if groups is not None and check.group not in groups:
                continue
            keys = [str(row[0]) for row in conn.execute(check.sql)]
            if keys:
                found.append(Difference(check.group, check.name, len(keys), keys[:examples]))
    return found
