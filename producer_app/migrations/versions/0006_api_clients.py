"""API clients: keys stored as a keyed hash, orders owned by the client that placed them, and
Idempotency-Keys scoped per client.

- ``orders.api_keys``: one row per key, ``HMAC-SHA256(API_KEY_PEPPER, key)`` and the client it
  belongs to (a client may hold several, to rotate). The key itself is shown once, when it is
  made (``make api-key NAME=...``), and stored nowhere; without the pepper, which only the
  API holds, a copy of this table verifies no guess and mints no key.
- ``orders.orders.client``: who placed the order; only that client reads or cancels it.
  Orders placed before this revision have none and are visible to no client.
- ``orders.idempotency_keys``: the primary key becomes (client, key), so two clients that pick
  the same Idempotency-Key never see each other's reply. Existing keys belong to client ''.

Revision ID: 0006
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

CLIENT_NAME = r"^[a-z0-9][a-z0-9._-]{0,62}$"


def upgrade() -> None:
    op.execute(f"""
        CREATE TABLE orders.api_keys (
            key_hash   bytea PRIMARY KEY CHECK (length(key_hash) = 32),
            client     text NOT NULL CHECK (client ~ '{CLIENT_NAME}'),
            created_at timestamptz NOT NULL DEFAULT now(),
            revoked_at timestamptz
        )
    """)
    op.execute("CREATE INDEX api_keys_client ON orders.api_keys (client)")
    op.execute("ALTER TABLE orders.orders ADD COLUMN client text")
    op.execute("ALTER TABLE orders.idempotency_keys ADD COLUMN client text NOT NULL DEFAULT ''")
    op.execute("ALTER TABLE orders.idempotency_keys DROP CONSTRAINT idempotency_keys_pkey")
    op.execute("ALTER TABLE orders.idempotency_keys ADD PRIMARY KEY (client, key)")


def downgrade() -> None:
    op.execute("ALTER TABLE orders.idempotency_keys DROP CONSTRAINT idempotency_keys_pkey")
    op.execute("DELETE FROM orders.idempotency_keys WHERE client <> ''")
    op.execute("ALTER TABLE orders.idempotency_keys ADD PRIMARY KEY (key)")
    op.execute("ALTER TABLE orders.idempotency_keys DROP COLUMN client")
    op.execute("ALTER TABLE orders.orders DROP COLUMN client")
    op.execute("DROP TABLE orders.api_keys")
