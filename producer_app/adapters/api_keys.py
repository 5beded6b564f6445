"""API keys in Postgres (``orders.api_keys``), stored only as HMAC-SHA256 under a pepper.

A key is 32 random bytes (``opk_`` and 43 URL-safe characters), so nothing can be guessed and
no salt or slow hash is needed: a password hash (bcrypt, scrypt, argon2) exists to make
guessing a *weak* secret expensive, and would cost every request tens of milliseconds of CPU
(``bench/api_auth.py`` measures both). The hash is keyed with ``API_KEY_PEPPER``, which only
the API holds: a copy of the table (a backup, a read through another hole) verifies no guess,
and a role that may write the table still cannot mint a working key. Being deterministic,
the hash is also the lookup key: one primary-key read per check.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from pydantic import SecretStr
from sqlalchemy import Engine, text

from producer_app.service_layer.clients import client_name

PREFIX = "opk_"
# What a key made by ``issue`` looks like; anything else is refused without a lookup.
SHAPE = re.compile(r"^opk_[A-Za-z0-9_-]{43}$")

_INSERT = text("INSERT INTO orders.api_keys (key_hash, client) VALUES (:hash, :client)")
_REVOKE = text(
    "UPDATE orders.api_keys SET revoked_at = now() WHERE client = :client AND revoked_at IS NULL"
)
_CLIENT = text("SELECT client FROM orders.api_keys WHERE key_hash = :hash AND revoked_at IS NULL")


class SqlApiKeys:
    def __init__(self, engine: Engine, pepper: SecretStr) -> None:
        self._engine = engine
        self._pepper = pepper.get_secret_value().encode()

    def digest(self, key: str) -> bytes:
        return hmac.new(self._pepper, key.encode(), hashlib.sha256).digest()

    def issue(self, client: str) -> str:
        key = PREFIX + secrets.token_urlsafe(32)
        with self._engine.begin() as conn:
            conn.execute(_INSERT, {"hash": self.digest(key), "client": client_name(client)})
        return key

    def revoke(self, client: str) -> int:
        with self._engine.begin() as conn:
            return int(conn.execute(_REVOKE, {"client": client_name(client)}).rowcount)

    def client_of(self, key: str) -> str | None:
        if not SHAPE.fullmatch(key):
            return None
        with self._engine.connect() as conn:
            row = conn.execute(_CLIENT, {"hash": self.digest(key)}).first()
        return None if row is None else str(row[0])
