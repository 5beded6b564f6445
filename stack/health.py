"""Health probes for each part and a wait that names the part that did not come up.

A probe returns ``None`` when healthy or a short reason when not; ``wait_healthy`` retries it
until a deadline and then raises ``StackError`` with the reason and the end of the part's log.
"""

from __future__ import annotations

import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from contract.kafka import KafkaAccess
from stack.process import tail
from stack.rest import ConnectRest, http_json

Probe = Callable[[], str | None]


class StackError(RuntimeError):
    """A part of the stack failed; the message says which and why."""


def wait_healthy(
    name: str,
    probe: Probe,
    *,
    timeout: float,
    log_file: Path,
    is_running: Callable[[], bool] = lambda: True,
    interval: float = 0.5,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> float:
    """Poll ``probe`` until healthy; return seconds waited or raise naming ``name``."""
    start = clock()
    reason: str | None = "not probed yet"
    while True:
        reason = probe()
        if reason is None:
            return clock() - start
        if not is_running():
            raise StackError(
                f"{name} exited while starting ({reason}); end of {log_file}:\n{tail(log_file)}"
            )
        if clock() - start >= timeout:
            raise StackError(
                f"{name} not healthy after {timeout:.0f}s ({reason}); end of {log_file}:\n"
                f"{tail(log_file)}"
            )
        sleep(interval)


def tcp_probe(host: str, port: int) -> Probe:
    def probe() -> str | None:
        try:
            with socket.create_connection((host, port), timeout=1.0):
                return None
        except OSError as exc:
            return f"{host}:{port} refuses connections: {exc.strerror or exc}"

    return probe


def postgres_probe(dsn: str) -> Probe:
    """Healthy when the server accepts a real login and answers ``SELECT 1``."""

    def probe() -> str | None:
        import psycopg

        try:
            with psycopg.connect(dsn, connect_timeout=2) as conn:
                conn.execute("SELECT 1")
            return None
        except psycopg.Error as exc:
            return f"postgres: {str(exc).strip().splitlines()[0] if str(exc) else exc!r}"

    return probe


def kafka_probe(access: KafkaAccess) -> Probe:
    """Healthy when the broker authenticates the principal and answers a metadata request
    (not just an open port)."""
    bootstrap = access.bootstrap_servers

    def probe() -> str | None:
        from kafka import KafkaAdminClient
        from kafka.errors import KafkaError

        try:
            admin = KafkaAdminClient(
                **access.client(
                    request_timeout_ms=3000, bootstrap_timeout_ms=3000, client_id="stack-health"
                )
            )
        except KafkaError as exc:
            return f"kafka metadata at {bootstrap}: {exc!r}"
        try:
            admin.list_topics()
            return None
        except KafkaError as exc:
            return f"kafka metadata at {bootstrap}: {exc!r}"
        finally:
            admin.close()

    return probe


def connect_probe(rest: ConnectRest) -> Probe:
    """Healthy when the Connect REST API answers an authenticated request and lists its
    plugins (workers joined)."""

    def probe() -> str | None:
        try:
            rest.call("/connector-plugins")
            return None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            return f"connect REST at {rest}: {exc}"

    return probe


def http_probe(url: str) -> Probe:
    """Healthy when ``url`` answers 2xx."""

    def probe() -> str | None:
        try:
            http_json(url, timeout=2)
            return None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            return f"{url}: {exc}"

    return probe


def text_probe(url: str) -> Probe:
    """Healthy when ``url`` answers 2xx (any body: a metrics endpoint's is not JSON)."""

    def probe() -> str | None:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - our URL
                response.read()
            return None
        except (urllib.error.URLError, OSError) as exc:
            return f"{url}: {exc}"

    return probe


def groups_probe(access: KafkaAccess, groups: Callable[[], list[str]]) -> Probe:
    """Healthy when every consumer group is Stable with at least one live member."""

    def probe() -> str | None:
        from kafka import KafkaAdminClient
        from kafka.errors import KafkaError

        try:
            admin = KafkaAdminClient(
                **access.client(request_timeout_ms=3000, bootstrap_timeout_ms=3000)
            )
            try:
                described = admin.describe_groups(groups())
            finally:
                admin.close()
        except KafkaError as exc:
            return f"kafka at {access.bootstrap_servers}: {exc!r}"
        waiting = [
            f"{g} {d['group_state']} with {len(d['members'])} members"
            for g, d in described.items()
            if d["group_state"] != "Stable" or not d["members"]
        ]
        return "; ".join(waiting) or None

    return probe
