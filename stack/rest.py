"""The Kafka Connect REST API as its clients use it: the URL and the operator's credentials
(HTTP Basic, checked by Connect's ``BasicAuthSecurityRestExtension``). ``str()`` is the URL
alone, so a message that names where it looked never carries the password.

The URL may list several workers of one group (``http://a:8083,http://b:8083``, the HA
topology): any worker answers for the group (it forwards writes to the leader), so a call goes
to the first that accepts the connection, and a dead or frozen worker is passed over."""

from __future__ import annotations

import base64
import json
import urllib.error
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
        """JSON over HTTP (stdlib only); raises ``urllib.error.HTTPError`` on a 4xx/5xx (an
        answer: the next worker is not asked), the last worker's error when none answers."""
        urls = [u.strip().rstrip("/") for u in self.url.split(",") if u.strip()]
        for i, url in enumerate(urls):
            try:
                return http_json(
                    f"{url}{path}",
                    method=method,
                    body=body,
                    timeout=timeout,
                    authorization=self.authorization(),
                )
            except urllib.error.HTTPError:
                raise
            except (urllib.error.URLError, OSError):
                if i == len(urls) - 1:
                    raise
        raise ValueError(f"no Connect URL in {self.url!r}")


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
