"""The outbox and Debezium's heartbeat table.

The outbox is insert-only from the app's side and stays empty: each row is deleted in the same
transaction that inserts it. Logical decoding still sees the INSERT in the WAL, which is all
Debezium needs; the Outbox Event Router ignores the DELETE. So the table never grows and a
snapshot has nothing old to re-publish.

Revision ID: 0001
"""

from __future__ import annotations

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
        CREATE TABLE orders.outbox (
            id              uuid PRIMARY KEY,
            aggregate_type  text NOT NULL,
            aggregate_id    text NOT NULL,
            event_type      text NOT NULL,
            payload         bytea NOT NULL,
            idempotency_key text,
            traceparent     text,
            created_at      timestamptz NOT NULL DEFAULT clock_timestamp()
        )
    """)
    op.execute("""
        CREATE TABLE orders.debezium_heartbeat (
            id      integer PRIMARY KEY,
            beat_at timestamptz NOT NULL
        )
    """)


def downgrade() -> None:
    op.execute("DROP TABLE orders.debezium_heartbeat")
    op.execute("DROP TABLE orders.outbox")
