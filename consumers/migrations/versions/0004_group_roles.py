"""One Postgres role per consumer group: each may write its own read model and only its own
rows of processed_events.

The groups used to share one role that could write every group's tables and dedup marks, so
a bug or a compromise in one handler could corrupt another group's read model or mark its
events handled. Now ``consumer-<group>`` (made by the stack's bootstrap, ``stack.dbinit``)
gets its own tables here, and a row-level policy on ``processed_events`` lets it see and
write only the rows of its group, read back from its role's name. Row-level security rather
than a table per group: the table, its primary key and retention index, and every reader
across groups (reconcile, trace, the chaos checker) stay as they are, and a new group needs a
role, not a table and a migration of its own (docs/architecture.md). The owner (this
migration's role) and superusers are not subject to the policy; no group runs as either.

Revision ID: 0004
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# Each group's read model. A new group's migration grants its own tables the same way.
GROUP_TABLES = {
    "notifications": ("notifications",),
    "sales-projection": ("sales_orders", "sales_daily"),
    "inventory": ("stock", "reservations"),
}


def upgrade() -> None:
    op.execute("ALTER TABLE consumers.processed_events ENABLE ROW LEVEL SECURITY")
    op.execute("""
        CREATE POLICY own_group ON consumers.processed_events
        USING ('consumer-' || consumer_group = current_user::text)
        WITH CHECK ('consumer-' || consumer_group = current_user::text)
    """)
    for group, tables in GROUP_TABLES.items():
        for table in tables:
            op.execute(
                f'GRANT SELECT, INSERT, UPDATE, DELETE ON consumers.{table} TO "consumer-{group}"'
            )


def downgrade() -> None:
    for group, tables in GROUP_TABLES.items():
        for table in tables:
            op.execute(f'REVOKE ALL ON consumers.{table} FROM "consumer-{group}"')
    op.execute("DROP POLICY own_group ON consumers.processed_events")
    op.execute("ALTER TABLE consumers.processed_events DISABLE ROW LEVEL SECURITY")
