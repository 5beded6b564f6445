"""The ground-truth checks: the orders table against every handler's read model, in SQL.
Shared by the end-to-end test and the chaos checker. Each query counts violations (0 = holds)."""

from __future__ import annotations

# Every order has exactly one confirmation; every cancelled order exactly one cancellation.
NOTIFICATION_MISMATCHES = """
    SELECT count(*) FROM orders.orders o
    WHERE (SELECT count(*) FROM consumers.notifications n
           WHERE n.order_id = o.id AND n.kind = 'order_confirmation') <> 1
       OR (SELECT count(*) FROM consumers.notifications n
           WHERE n.order_id = o.id AND n.kind = 'cancellation')
          <> (o.status = 'cancelled')::int
"""
# No effect without a committed order.
NOTIFICATIONS_WITHOUT_ORDER = """
    SELECT count(*) FROM consumers.notifications n
    WHERE NOT EXISTS (SELECT 1 FROM orders.orders o WHERE o.id = n.order_id)
"""
EFFECTS_WITHOUT_ORDER = """
    SELECT (SELECT count(*) FROM consumers.sales_orders s
            WHERE NOT EXISTS (SELECT 1 FROM orders.orders o WHERE o.id = s.order_id))
         + (SELECT count(*) FROM consumers.reservations r
            WHERE NOT EXISTS (SELECT 1 FROM orders.orders o WHERE o.id = r.order_id))
"""
# The projection equals units and revenue of the orders that stand, per day, SKU, currency.
SALES_MISMATCHES = """
    WITH expected AS (
        SELECT (o.placed_at AT TIME ZONE 'UTC')::date AS day, l.sku, o.currency::text,
               sum(l.quantity) AS units, sum(l.quantity * l.unit_price_cents) AS revenue
        FROM orders.orders o JOIN orders.order_lines l ON l.order_id = o.id
        WHERE o.status = 'placed' GROUP BY 1, 2, 3
    ), actual AS (
        SELECT day, sku, currency, units, revenue_cents AS revenue FROM consumers.sales_daily
        WHERE units <> 0 OR revenue_cents <> 0
    )
    SELECT count(*) FROM expected e FULL OUTER JOIN actual a USING (day, sku, currency)
    WHERE e.units IS DISTINCT FROM a.units OR e.revenue IS DISTINCT FROM a.revenue
"""
# Each order has its reservation outcome, matching its status and its lines.
INVENTORY_MISMATCHES = """
    SELECT count(*) FROM orders.orders o
    LEFT JOIN consumers.reservations r ON r.order_id = o.id
    WHERE r.order_id IS NULL
       OR (o.status = 'placed' AND r.status NOT IN ('reserved', 'rejected'))
       OR (o.status = 'cancelled' AND r.status NOT IN ('released', 'rejected'))
       OR (r.status IN ('reserved', 'released') AND r.lines <> (
            SELECT jsonb_agg(jsonb_build_array(l.sku, l.quantity) ORDER BY l.sku)
            FROM orders.order_lines l WHERE l.order_id = o.id))
"""
# Reserved stock equals the sum of the reservations that hold it.
STOCK_MISMATCHES = """
    SELECT count(*) FROM consumers.stock s
    WHERE s.reserved <> COALESCE((
        SELECT sum((line->>1)::bigint) FROM consumers.reservations r,
               jsonb_array_elements(r.lines) AS line
        WHERE r.status = 'reserved' AND line->>0 = s.sku), 0)
"""
# A cancel applied before its place leaves a 'cancelled_first' mark.
CANCEL_BEFORE_PLACE = """
    SELECT (SELECT count(*) FROM consumers.sales_orders WHERE status = 'cancelled_first')
         + (SELECT count(*) FROM consumers.reservations WHERE status = 'cancelled_first')
"""
EVENTS = """
    SELECT (SELECT count(*) FROM orders.orders)
         + (SELECT count(*) FROM orders.orders WHERE status = 'cancelled')
"""
# Events a group applied; its dead letters leave marks too (outcome 'dead_lettered').
PROCESSED = (
    "SELECT count(*) FROM consumers.processed_events "
    "WHERE consumer_group = %s AND outcome = 'handled'"
)

VIOLATIONS = {
    "notifications": NOTIFICATION_MISMATCHES,
    "notifications without order": NOTIFICATIONS_WITHOUT_ORDER,
    "effects without order": EFFECTS_WITHOUT_ORDER,
    "sales projection": SALES_MISMATCHES,
    "reservations": INVENTORY_MISMATCHES,
    "reserved stock": STOCK_MISMATCHES,
    "cancel before place": CANCEL_BEFORE_PLACE,
}


# The set-based ground truth of a run: every event the orders imply, from the orders table.
RUN_ORDERS = "SELECT id, status FROM orders.orders WHERE NOT (id = ANY(%s::uuid[]))"
HANDLED_OF = (
    "SELECT event_id FROM consumers.processed_events "
    "WHERE consumer_group = %s AND outcome = 'handled' AND event_id = ANY(%s::uuid[])"
)
DEAD_MARKED_OF = (
    "SELECT event_id FROM consumers.processed_events "
    "WHERE consumer_group = %s AND outcome = 'dead_lettered' AND event_id = ANY(%s::uuid[])"
)
