"""Postgres store for Idempotency-Key results (table ``orders.idempotency_keys``)."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import Engine, text
from sqlmodel import Session

from producer_app.service_layer.idempotency import IdempotencyRequest, KeyReused
from producer_app.service_layer.results import Change, Result

# Claim the key, or reclaim it if its stored reply has expired. A concurrent claim of the same
# key waits here for the other transaction, then returns no row.
_CLAIM = text("""
    INSERT INTO orders.idempotency_keys (client, key, request_hash, created_at)
    VALUES (:client, :key, :hash, now())
    ON CONFLICT (client, key) DO UPDATE
        SET request_hash = EXCLUDED.request_hash, created_at = EXCLUDED.created_at,
            change = NULL, response = NULL
        WHERE orders.idempotency_keys.created_at < now() - :ttl
    RETURNING key
""")
_STORED = text(
    "SELECT request_hash, change, response FROM orders.idempotency_keys"
    " WHERE client = :client AND key = :key"
)
_SAVE = text("""
    UPDATE orders.idempotency_keys SET change = :change, response = CAST(:body AS jsonb)
    WHERE client = :client AND key = :key
""")


# Expired keys, oldest first, a batch per transaction (SKIP LOCKED: a key being reclaimed by a
# request right now is left to that request).
_PURGE = text("""
    DELETE FROM orders.idempotency_keys WHERE (client, key) IN (
        SELECT client, key FROM orders.idempotency_keys WHERE created_at < now() - :ttl
        ORDER BY created_at LIMIT :batch FOR UPDATE SKIP LOCKED)
""")


def purge_expired(engine: Engine, ttl: timedelta, batch: int = 5_000) -> int:
    """Delete the keys past their TTL (a request may reuse such a key anyway: the claim
    reclaims it), so the table holds about one TTL of keys; returns how many."""
    total = 0
    while True:
        with engine.begin() as conn:
            deleted = conn.execute(_PURGE, {"ttl": ttl, "batch": batch}).rowcount
        total += max(0, deleted)
        if deleted < batch:
            return total


class SqlIdempotencyStore:
    def __init__(self, session: Session, ttl: timedelta) -> None:
        self._session = session
        self._ttl = ttl

    def claim(self, request: IdempotencyRequest) -> Result | None:
        key = {"client": request.client, "key": request.key}
        claimed = self._session.execute(
            _CLAIM, {**key, "hash": request.fingerprint, "ttl": self._ttl}
        ).first()
        if claimed is not None:
            return None
        stored = self._session.execute(_STORED, key).one()
        if stored.request_hash != request.fingerprint:
            raise KeyReused(request.key)
        return Result(Change(stored.change), stored.response, replayed=True)

    def save(self, request: IdempotencyRequest, result: Result) -> None:
        self._session.execute(
            _SAVE,
            {
                "client": request.client,
                "key": request.key,
                "change": result.change.value,
                "body": json.dumps(result.order),
            },
        )
