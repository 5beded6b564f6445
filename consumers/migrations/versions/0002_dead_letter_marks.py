"""Dead letters leave a mark in processed_events, so a redelivery does not dead-letter again.

Revision ID: 0002
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # 'handled': the effect committed with this row. 'dead_lettered': the message went to
    # dlq.<group> in the batch that wrote this row; only a dead-letter replay may run it again.
    op.execute("""
        ALTER TABLE consumers.processed_events
        ADD COLUMN outcome text NOT NULL DEFAULT 'handled'
            CHECK (outcome IN ('handled', 'dead_lettered'))
    """)


def downgrade() -> None:
    op.execute("ALTER TABLE consumers.processed_events DROP COLUMN outcome")
