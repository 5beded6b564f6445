"""The ground-truth checks: the orders table against every handler's read model, in SQL.
Shared by the end-to-end test and the chaos checker. Each query counts violations (0 = holds);
the read-model checks themselves live in ``ops.reconcile`` (``make reconcile``)."""

from __future__ import annotations

from ops.reconcile import CHECKS, counting

EVENTS = """
    SELECT (SELECT count(*) FROM orders.orders)
         + (SELECT count(*) FROM orders.orders WHERE status = 'cancelled')
"""
# Events a group applied; its dead letters leave marks too (outcome 'dead_lettered').
PROCESSED = (
    "SELECT count(*) FROM consumers.processed_events "
    "WHERE consumer_group = %s AND outcome = 'handled'"
)

# The read models' checks are the operator's ``make reconcile`` (``ops.reconcile``), counted.
VIOLATIONS = {name: counting(name) for name in dict.fromkeys(c.name for c in CHECKS)}


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
