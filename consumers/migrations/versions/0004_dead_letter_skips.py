"""Dead letters an operator settled without applying them (``make dlq-skip``): who, why, when.

A skipped event's mark in processed_events becomes ``outcome = 'skipped'``, so neither a
redelivery nor a later ``make dlq-replay`` runs it (a replay revives only 'dead_lettered'
marks); the row here keeps the decision for ``make trace`` and the audit.

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
        "ALTER TABLE consumers.processed_events DROP CONSTRAINT processed_events_outcome_check"
    )
    op.execute("""
        ALTER TABLE consumers.processed_events ADD CONSTRAINT processed_events_outcome_check
            CHECK (outcome IN ('handled', 'dead_lettered', 'skipped'))
    """)
    op.execute("""
        CREATE TABLE consumers.dead_letter_skips (
            consumer_group text NOT NULL,
            event_id       uuid NOT NULL,
            skipped_by     text NOT NULL CHECK (skipped_by <> ''),
            reason         text NOT NULL CHECK (length(trim(reason)) > 0),
            skipped_at     timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (consumer_group, event_id)
        )
    """)


def downgrade() -> None:
    op.execute("DROP TABLE consumers.dead_letter_skips")
    op.execute(
        "UPDATE consumers.processed_events SET outcome = 'dead_lettered' WHERE outcome = 'skipped'"
    )
    op.execute(
        "ALTER TABLE consumers.processed_events DROP CONSTRAINT processed_events_outcome_check"
    )
    op.execute("""
        ALTER TABLE consumers.processed_events ADD CONSTRAINT processed_events_outcome_check
            CHECK (outcome IN ('handled', 'dead_lettered'))
    """)
