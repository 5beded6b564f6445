"""Idempotency-Key semantics as payment APIs define them, enforced by the database.

A request with a key first *claims* it by inserting the key in its own transaction. A second
request with the same key blocks on the primary key until the first commits, then finds the
stored reply and returns it, writing nothing. If the first rolls back, its claim vanishes and
the second proceeds. The same key with a different request is refused. No check-then-act.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Protocol

from producer_app.service_layer.results import Result


@dataclass(frozen=True)
class IdempotencyRequest:
    """A key is the ``client``'s own: two clients choosing the same key never meet (one would
    otherwise be answered with the other's order)."""

    key: str
    fingerprint: str
    client: str = ""

    @classmethod
    def of(
        cls, key: str, operation: str, payload: dict[str, Any], client: str = ""
    ) -> IdempotencyRequest:
        """Fingerprint the operation and its canonical JSON, so whitespace does not count."""
        canonical = json.dumps(
            {"op": operation, "payload": payload},
            sort_keys=True,
            separators=(",", ":"),
            default=str,
        )
        return cls(key, hashlib.sha256(canonical.encode()).hexdigest(), client)


class KeyReused(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(
            f"Idempotency-Key {key!r} was already used with a different request; "
            "use a new key for a new request"
        )
        self.key = key


class IdempotencyStore(Protocol):
    def claim(self, request: IdempotencyRequest) -> Result | None:
        """Claim the key in the current transaction. None: claimed, go ahead. A Result (marked
        ``replayed``): the key's first request already answered, answer the same. Raises
        ``KeyReused`` for another request under the same key."""

    def save(self, request: IdempotencyRequest, result: Result) -> None:
        """Store the result under the claimed key, in the current transaction."""
