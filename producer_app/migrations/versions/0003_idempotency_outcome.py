"""Idempotency-Key replays store what the use case did, not an HTTP status.

The service layer returns domain results and only the HTTP entrypoint maps them to status codes,
so the stored reply names the change (``placed``, ``cancelled``) and the order view. Rows stored
before this revision are mapped from the status the API gave them.

Revision ID: 0003
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE orders.idempotency_keys ADD COLUMN change text")
    op.execute("""
        UPDATE orders.idempotency_keys
        SET change = CASE status_code WHEN 201 THEN 'placed' WHEN 200 THEN 'cancelled' END
        WHERE status_code IS NOT NULL
    """)
    op.execute("ALTER TABLE orders.idempotency_keys DROP COLUMN status_code")
    op.execute("""
        ALTER TABLE orders.idempotency_keys ADD CONSTRAINT idempotency_keys_change
        CHECK (change IN ('placed', 'cancelled'))
    """)


def downgrade() -> None:
    op.execute("ALTER TABLE orders.idempotency_keys ADD COLUMN status_code integer")
    op.execute("""
        UPDATE orders.idempotency_keys
        SET status_code = CASE change WHEN 'placed' THEN 201 WHEN 'cancelled' THEN 200 END
    """)
    op.execute("ALTER TABLE orders.idempotency_keys DROP COLUMN change")
