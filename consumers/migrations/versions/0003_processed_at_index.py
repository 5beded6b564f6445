"""An index for the purge of expired dedup marks (consumer_runtime.retention): it deletes a
group's oldest marks in small batches, which without it would scan the whole table each time.

Revision ID: 0003
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "CREATE INDEX IF NOT EXISTS processed_events_group_age"
        " ON consumers.processed_events (consumer_group, processed_at)"
    )


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS consumers.processed_events_group_age")
