"""One Postgres role per consumer group: each may write its own read model and only its own
rows of processed_events (and of dead_letter_skips, its operator's record of settled dead
letters).

The groups used to share one role that could write every group's tables and dedup marks, so
a bug or a compromise in one handler could corrupt another group's read model or mark its
events handled. Now ``consumer-<group>`` (made by the stack's bootstrap, ``stack.dbinit``)
gets its own tables here, and a row-level policy on ``processed_events`` lets it see and
write only the rows of its group, read back from its role's name. Row-level security rather
than a table per group: the table, its primary key and retention index, and every reader
across groups (reconcile, trace, the chaos checker) stay as they are, and a new group needs a
role, not a table and a migration of its own (docs/architecture.md). The owner (this
migration's role) and superusers are not subject to the policy; no group runs as either.

Revision ID: 0005
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# The runtime's tables every group shares, one row per group and event: each group's role sees
# and writes only its own rows (stack.dbinit.grant_groups grants them to every group's role).
SHARED = ("processed_events", "dead_letter_skips")
POLICY = "'consumer-' || consumer_group = current_user::text"
# Each group's read model. A new group's migration grants its own tables the same way.
GROUP_TABLES = {
    "notifications": ("notifications",),
    "sales-projection": ("sales_orders", "sales_daily"),
    "inventory": ("stock", "reservations"),
}


def upgrade() -> None:
    for table in SHARED:
        op.execute(f"ALTER TABLE consumers.{table} ENABLE ROW LEVEL SECURITY")
        op.execute(
            f"CREATE POLICY own_group ON consumers.{table} USING ({POLICY}) WITH CHECK ({POLICY})"
        )
    for group, tables in GROUP_TABLES.items():
        for table in tables:
            op.execute(
                f'GRANT SELECT, INSERT, UPDATE, DELETE ON consumers.{table} TO "consumer-{group}"'
            )


def downgrade() -> None:
    for group, tables in GROUP_TABLES.items():
        for table in tables:
            op.execute(f'REVOKE ALL ON consumers.{table} FROM "consumer-{group}"')
    for table in SHARED:
        op.execute(f"DROP POLICY own_group ON consumers.{table}")
        op.execute(f"ALTER TABLE consumers.{table} DISABLE ROW LEVEL SECURITY")
