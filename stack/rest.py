"""The Kafka Connect REST API as its clients use it: the URL and the operator's credentials
(HTTP Basic, checked by Connect's ``BasicAuthSecurityRestExtension``). ``str()`` is the URL
alone, so a message that names where it looked never carries the password."""

from __future__ import annotations

import base64
import json
import urllib.request
from dataclasses import dataclass

from pydantic import SecretStr


@dataclass(frozen=True)
class ConnectRest:
    url: str
    user: str
    password: SecretStr

    def __str__(self) -> str:
        return self.url

    def authorization(self) -> str:
        token = f"{self.user}:{self.password.get_secret_value()}".encode()
        return "Basic " + base64.b64encode(token).decode()

    def call(
        self, path: str, *, method: str = "GET", body: object = None, timeout: float = 5.0
    ) -> object:
        """JSON over HTTP (stdlib only); raises ``urllib.error.HTTPError`` on a 4xx/5xx."""
        return http_json(
            f"{self.url.rstrip('/')}{path}",
            method=method,
            body=body,
            timeout=timeout,
            authorization=self.authorization(),
        )


def http_json(
    url: str,
    *,
    method: str = "GET",
    body: object = None,
    timeout: float = 5.0,
    authorization: str | None = None,
) -> object:
    """Small JSON-over-HTTP helper (stdlib only)."""
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"not an HTTP URL: {url}")
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)  # noqa: S310 (scheme checked)
    req.add_header("Accept", "application/json")
    if authorization is not None:
        req.add_header("Authorization", authorization)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310
        raw = resp.read()
    return json.loads(raw) if raw else None
