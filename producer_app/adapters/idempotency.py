"""Postgres store for Idempotency-Key replies (table ``orders.idempotency_keys``)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import text
from sqlmodel import Session

from producer_app.service_layer.idempotency import (
    IdempotencyRequest,
    KeyReused,
    Reply,
)

# Claim the key, or reclaim it if its stored reply has expired. A concurrent claim of the same
# key waits here for the other transaction, then returns no row.
_CLAIM = text("""
    INSERT INTO orders.idempotency_keys (key, request_hash, created_at)
    VALUES (:key, :hash, now())
    ON CONFLICT (key) DO UPDATE
        SET request_hash = EXCLUDED.request_hash, created_at = EXCLUDED.created_at,
            status_code = NULL, response = NULL
        WHERE orders.idempotency_keys.created_at < now() - :ttl
    RETURNING key
""")
_STORED = text(
    "SELECT request_hash, status_code, response FROM orders.idempotency_keys WHERE key = :key"
)
_SAVE = text("""
    UPDATE orders.idempotency_keys SET status_code = :status, response = CAST(:body AS jsonb)
    WHERE key = :key
""")


class SqlIdempotencyStore:
    def __init__(self, session: Session, ttl: timedelta) -> None:
        self._session = session
        self._ttl = ttl

    def claim(self, request: IdempotencyRequest) -> Reply | None:
        claimed = self._session.execute(
            _CLAIM, {"key": request.key, "hash": request.fingerprint, "ttl": self._ttl}
        ).first()
        if claimed is not None:
            return None
        stored = self._session.execute(_STORED, {"key": request.key}).one()
        if stored.request_hash != request.fingerprint:
            raise KeyReused(request.key)
        return Reply(stored.status_code, stored.response, replayed=True)

    def save(self, request: IdempotencyRequest, reply: Reply) -> None:
        import json

        self._session.execute(
            _SAVE, {"key": request.key, "status": reply.status, "body": json.dumps(reply.body)}
        )
