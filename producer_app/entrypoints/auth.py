"""Who is calling: a bearer API key on every ``/orders`` call (FastAPI's ``HTTPBearer``, so
the OpenAPI spec declares the scheme and the docs page offers to send it).

A missing, malformed, unknown or revoked key is a 401 with ``WWW-Authenticate: Bearer``
(RFC 6750), the same answer for each, so a caller learns nothing about which keys exist.
What a known client may touch is the use cases' business (an order belongs to whoever
placed it). A key found live is remembered for ``ttl`` seconds, so most requests pay no
database read; a revoked key therefore stops working within ``ttl``. Unknown keys are not
remembered: a flood of random ones cannot fill memory.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from producer_app.service_layer.clients import ApiKeyStore

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="ApiKey",
    description="An API key: `make api-key NAME=<client>` prints a new one once.",
)


class Unauthenticated(Exception):
    """No credentials, or none that name a live key (``errors`` answers 401)."""

    def __init__(self, message: str, *, invalid: bool) -> None:
        super().__init__(message)
        self.invalid = invalid  # credentials were sent (RFC 6750: error="invalid_token")


class Authenticator:
    """Turns a request's bearer key into its client's name (one per app: ``app.state``)."""

    def __init__(
        self,
        keys: ApiKeyStore,
        *,
        ttl: float = 5.0,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._keys = keys
        self._ttl = ttl
        self._max = max_entries
        self._clock = clock
        # sha256(key) -> (client, valid until); never the key itself in memory longer than needed
        self._live: OrderedDict[bytes, tuple[str, float]] = OrderedDict()

    async def client(self, credentials: HTTPAuthorizationCredentials | None) -> str:
        if credentials is None:
            raise Unauthenticated("send an API key: Authorization: Bearer <key>", invalid=False)
        token = credentials.credentials
        seen = hashlib.sha256(token.encode()).digest()
        now = self._clock()
        hit = self._live.get(seen)
        if hit is not None and hit[1] > now:
            return hit[0]
        client = await run_in_threadpool(self._keys.client_of, token)
        if client is None:
            self._live.pop(seen, None)
            raise Unauthenticated("the API key is not valid", invalid=True)
        self._live[seen] = (client, now + self._ttl)
        self._live.move_to_end(seen)
        while len(self._live) > self._max:
            self._live.popitem(last=False)
        return client


async def current_client(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> str:
    authenticator: Authenticator = request.app.state.authenticator
    return await authenticator.client(credentials)


# A route's parameter ``client: Client`` is the calling client's name; no key, no call.
Client = Annotated[str, Depends(current_client)]
