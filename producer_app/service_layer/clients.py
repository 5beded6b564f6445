"""API clients and their keys: the port the HTTP entrypoint authenticates through, and the
rule for a client's name. A client is whoever holds one of its keys; what it may touch is
decided by the use cases (an order belongs to the client that placed it)."""

from __future__ import annotations

import re
from typing import Protocol

CLIENT_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")


class InvalidClientName(ValueError):
    def __init__(self, name: str) -> None:
        super().__init__(
            f"client name {name[:80]!r}: 1-63 of a-z, 0-9, '.', '_' and '-', "
            "starting with a letter or digit"
        )


def client_name(name: str) -> str:
    """``name`` if it is a valid client name, else ``InvalidClientName``."""
    if not CLIENT_NAME.fullmatch(name):
        raise InvalidClientName(name)
    return name


class ApiKeyStore(Protocol):
    """Where keys are kept, only as a keyed hash: a key is shown once, when it is made."""

    def issue(self, client: str) -> str:
        """A new key for ``client`` (a client may hold several, to rotate); the only time the
        key itself exists outside its holder."""

    def revoke(self, client: str) -> int:
        """Revoke every key of ``client``; returns how many were live."""

    def client_of(self, key: str) -> str | None:
        """The client a live key belongs to; None for anything else (unknown, revoked,
        malformed). Never raises for a bad key."""
