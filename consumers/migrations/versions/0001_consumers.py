"""Processed events and the three handlers' tables.

Revision ID: 0001
"""

from __future__ import annotations

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Stock the inventory starts with: the seed's catalog SKU-0001..SKU-0040. Most SKUs are
# plentiful; the last two are scarce so that reservations are rejected now and then.
PLENTIFUL, SCARCE = 1_000_000, 40


def upgrade() -> None:
    # Long on purpose: one table after another, read top to bottom like the schema it makes.
    op.execute("""
        CREATE TABLE consumers.processed_events (
            consumer_group text NOT NULL,
            event_id       uuid NOT NULL,
            source         text NOT NULL,
            processed_at   timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (consumer_group, event_id)
        )
    """)
    op.execute("""
        CREATE TABLE consumers.notifications (
            event_id    uuid PRIMARY KEY,
            order_id    uuid NOT NULL,
            customer_id text NOT NULL,
            kind        text NOT NULL CHECK (kind IN ('order_confirmation', 'cancellation')),
            body        text NOT NULL,
            created_at  timestamptz NOT NULL DEFAULT now()
        )
    """)
    op.execute("CREATE INDEX notifications_order ON consumers.notifications (order_id)")
    op.execute("""
        CREATE TABLE consumers.sales_orders (
            order_id  uuid PRIMARY KEY,
            day       date,
            currency  text,
            status    text NOT NULL CHECK (status IN ('counted', 'reversed', 'cancelled_first')),
            lines     jsonb NOT NULL DEFAULT '[]'
        )
    """)
    op.execute("""
        CREATE TABLE consumers.sales_daily (
            day           date NOT NULL,
            sku           text NOT NULL,
            currency      text NOT NULL,
            units         bigint NOT NULL,
            revenue_cents bigint NOT NULL,
            PRIMARY KEY (day, sku, currency)
        )
    """)
    op.execute("""
        CREATE TABLE consumers.stock (
            sku      text PRIMARY KEY,
            on_hand  bigint NOT NULL CHECK (on_hand >= 0),
            reserved bigint NOT NULL DEFAULT 0 CHECK (reserved >= 0 AND reserved <= on_hand)
        )
    """)
    op.execute(f"""
        INSERT INTO consumers.stock (sku, on_hand)
        SELECT format('SKU-%s', lpad(i::text, 4, '0')),
               CASE WHEN i > 38 THEN {SCARCE} ELSE {PLENTIFUL} END
        FROM generate_series(1, 40) AS i
    """)
    op.execute("""
        CREATE TABLE consumers.reservations (
            order_id   uuid PRIMARY KEY,
            status     text NOT NULL
                       CHECK (status IN ('reserved', 'rejected', 'released', 'cancelled_first')),
            lines      jsonb NOT NULL DEFAULT '[]',
            reason     text,
            updated_at timestamptz NOT NULL DEFAULT now()
        )
    """)


def downgrade() -> None:
    for table in (
        "reservations",
        "stock",
        "sales_daily",
        "sales_orders",
        "notifications",
        "processed_events",
    ):
        op.execute(f"DROP TABLE consumers.{table}")
