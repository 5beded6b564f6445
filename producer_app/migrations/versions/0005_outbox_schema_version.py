"""The outbox row says which version of its event's schema wrote the payload.

Debezium's router copies the column into the ``schema_version`` header
(``connectors/orders-outbox.json``), so a consumer can tell a schema newer than it knows
(wait for its upgrade, the partition paused) from bytes no schema wrote (dead-letter).
Nullable: a producer of the previous release still running during a deploy writes no value,
and its messages are read as before. Apply this before registering the new connector config:
the router fails a row that lacks a column it is told to place.

Revision ID: 0005
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE orders.outbox ADD COLUMN schema_version integer")


def downgrade() -> None:
    op.execute("ALTER TABLE orders.outbox DROP COLUMN schema_version")
