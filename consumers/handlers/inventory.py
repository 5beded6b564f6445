"""Inventory: reserve stock on OrderPlaced, release it on OrderCancelled, record a rejection
when stock is short (all lines or none).

Stock rows are locked in SKU order, so two instances reserving the same SKUs queue instead of
deadlocking within one order; a deadlock across batches is a ``BatchConflict`` and re-run.
"""

from __future__ import annotations

import json

from consumers.events import Event, OrderCancelled, OrderPlaced
from consumers.runtime.message import HandlerContext


def reserve(event: Event, ctx: HandlerContext) -> None:
    conn = ctx.connection
    match event:
        case OrderPlaced():
            wanted = sorted((li.sku, li.quantity) for li in event.lines)
            # Both queries are sent before either is read: one round trip when the batch is
            # pipelined. Locking the stock rows of an order cancelled first costs nothing more
            # than holding them to the end of the batch.
            existing = conn.execute(
                "SELECT status FROM consumers.reservations WHERE order_id = %s FOR UPDATE",
                (event.order_id,),
            )
            stock_rows = conn.execute(
                "SELECT sku, on_hand - reserved FROM consumers.stock WHERE sku = ANY(%s) "
                "ORDER BY sku FOR UPDATE",
                ([sku for sku, _ in wanted],),
            )
            if existing.fetchone() is not None:
                return  # cancelled before it arrived: reserve nothing
            stock = dict(stock_rows.fetchall())
            short = [
                f"{sku}: want {qty}, have {stock.get(sku, 0)}"
                for sku, qty in wanted
                if stock.get(sku, 0) < qty
            ]
            if short:
                conn.execute(
                    "INSERT INTO consumers.reservations (order_id, status, lines, reason)"
                    " VALUES (%s, 'rejected', %s, %s)",
                    (event.order_id, json.dumps(wanted), "; ".join(short)),
                )
                return
            with conn.cursor() as c:
                c.executemany(
                    "UPDATE consumers.stock SET reserved = reserved + %s WHERE sku = %s",
                    [(qty, sku) for sku, qty in wanted],
                )
            conn.execute(
                "INSERT INTO consumers.reservations (order_id, status, lines) "
                "VALUES (%s, 'reserved', %s)",
                (event.order_id, json.dumps(wanted)),
            )
        case OrderCancelled():
            row = conn.execute(
                "SELECT status, lines FROM consumers.reservations WHERE order_id = %s FOR UPDATE",
                (event.order_id,),
            ).fetchone()
            if row is None:
                conn.execute(
                    "INSERT INTO consumers.reservations (order_id, status) "
                    "VALUES (%s, 'cancelled_first')",
                    (event.order_id,),
                )
                return
            status, lines = row
            if status == "reserved":
                with conn.cursor() as c:
                    c.executemany(
                        "UPDATE consumers.stock SET reserved = reserved - %s WHERE sku = %s",
                        [(qty, sku) for sku, qty in sorted(lines)],
                    )
                conn.execute(
                    "UPDATE consumers.reservations SET status = 'released', "
                    "updated_at = now() WHERE order_id = %s",
                    (event.order_id,),
                )
