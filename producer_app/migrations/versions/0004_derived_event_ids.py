"""Orders remember whether their events' ids are derived from them.

Since this revision an event's id is a function of its order and type
(``domain.events.event_id``), so ``make republish`` can raise an order's events again with
their first ids. Orders placed before it had random ids that nothing kept: re-publishing them
would be new events to every group (a second confirmation sent), so ``republish`` skips them
unless told otherwise. Existing rows get false; the producer writes true for every new order.
The default stays false, so an older producer still running during a deploy (random ids)
cannot mark its orders as derived.

Revision ID: 0004
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "ALTER TABLE orders.orders ADD COLUMN event_ids_derived boolean NOT NULL DEFAULT false"
    )


def downgrade() -> None:
    op.execute("ALTER TABLE orders.orders DROP COLUMN event_ids_derived")
