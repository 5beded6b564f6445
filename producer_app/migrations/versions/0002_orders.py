"""Orders, their lines, and stored Idempotency-Key replies.

Revision ID: 0002
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
        CREATE TABLE orders.orders (
            id            uuid PRIMARY KEY,
            customer_id   text NOT NULL,
            currency      char(3) NOT NULL,
            status        text NOT NULL CHECK (status IN ('placed', 'cancelled')),
            total_cents   bigint NOT NULL CHECK (total_cents > 0),
            sales_channel text NOT NULL,
            placed_at     timestamptz NOT NULL,
            cancelled_at  timestamptz,
            cancel_reason text,
            CHECK ((status = 'cancelled') = (cancelled_at IS NOT NULL))
        )
    """)
    op.execute("""
        CREATE TABLE orders.order_lines (
            order_id         uuid NOT NULL REFERENCES orders.orders (id),
            line_no          integer NOT NULL,
            sku              text NOT NULL,
            quantity         integer NOT NULL CHECK (quantity > 0),
            unit_price_cents bigint NOT NULL CHECK (unit_price_cents > 0),
            PRIMARY KEY (order_id, line_no)
        )
    """)
    # A key is claimed by inserting it in the request's own transaction: a concurrent request
    # with the same key waits on the primary key and then replays the stored reply.
    op.execute("""
        CREATE TABLE orders.idempotency_keys (
            key          text PRIMARY KEY,
            request_hash text NOT NULL,
            status_code  integer,
            response     jsonb,
            created_at   timestamptz NOT NULL
        )
    """)
    op.execute("CREATE INDEX idempotency_keys_created_at ON orders.idempotency_keys (created_at)")


def downgrade() -> None:
    op.execute("DROP TABLE orders.idempotency_keys")
    op.execute("DROP TABLE orders.order_lines")
    op.execute("DROP TABLE orders.orders")
