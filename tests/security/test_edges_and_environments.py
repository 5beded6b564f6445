"""What runs holds only its own secrets, and the API's edges hold against a real server:
each part's process environment (``/proc/<pid>/environ``, readable by its user) has no other
part's secret and never the Postgres superuser's; a chunked 4 MiB body is cut off with a 413
after the limit, not read whole; NUL is a 422; ``/health`` names no host, port or role."""

from __future__ import annotations

import select
import socket
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from producer_app.bootstrap import bootstrap
from producer_app.entrypoints.api import create_app
from producer_app.entrypoints.limits import MAX_BODY_BYTES
from producer_app.settings import ProducerSettings
from stack.layout import Layout
from stack.parts import (
    API_SECRETS,
    CONSUMER_SECRETS,
    EXPORTER_SECRETS,
    app_parts,
    stack_parts,
)
from stack.secrets import SECRET_VARS
from stack.settings import StackSettings
from tests.conftest import ROOT, bearer

pytestmark = pytest.mark.integration

# What each part's environment may hold; every other secret is a leak.
ALLOWED = {
    "postgres": (),
    "kafka": (),
    "connect": ("DEBEZIUM_DB_PASSWORD",),
    "api": API_SECRETS,
    "consumers": CONSUMER_SECRETS,
    "exporter": EXPORTER_SECRETS,
    "prometheus": (),
}


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    return dict(
        item.split("=", 1) for item in raw.decode(errors="replace").split("\0") if "=" in item
    )


def test_each_part_holds_only_its_own_secrets(
    apps_running: None, stack_settings: StackSettings
) -> None:
    secrets = {
        name: getattr(stack_settings, name.lower()).get_secret_value() for name in SECRET_VARS
    }
    layout = Layout(ROOT)
    checked = []
    for part in stack_parts(layout, stack_settings) + app_parts(layout, stack_settings):
        pid = part.pid()
        assert pid is not None, f"{part.name} is not running"
        values = set(_environ(pid).values())
        held = {name for name, secret in secrets.items() if secret in values}
        assert held <= set(ALLOWED[part.name]), (part.name, sorted(held))
        assert secrets["POSTGRES_PASSWORD"] not in values, part.name
        checked.append(part.name)
    assert sorted(checked) == sorted(ALLOWED)


def _api(stack_settings: StackSettings) -> str:
    return f"http://127.0.0.1:{stack_settings.api_port}"


def test_a_chunked_4_mib_body_is_refused_without_being_read_whole(
    apps_running: None, stack_settings: StackSettings
) -> None:
    chunk = b"x" * 65_536
    sent = 0
    with socket.create_connection(("127.0.0.1", stack_settings.api_port), timeout=10) as sock:
        sock.sendall(
            b"POST /orders HTTP/1.1\r\nHost: api\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        deadline = time.monotonic() + 30
        while sent < 4 * 1024 * 1024 and time.monotonic() < deadline:
            # Paced: loopback's socket buffers hold megabytes the server never read, so the
            # client waits a moment for an answer after each chunk instead of filling them.
            if select.select([sock], [], [], 0.1)[0]:
                break  # the server answered before the body ended
            try:
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(chunk)
        answer = sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    # A slow answer lets a few chunks more through before it is seen; never the whole body.
    assert sent <= MAX_BODY_BYTES + 16 * len(chunk), f"{sent} bytes went in before the 413"


def test_nul_in_a_field_is_a_422_naming_it(
    apps_running: None, stack_settings: StackSettings, api_key: str
) -> None:
    body = {
        "customer_id": "cust\u0000",
        "currency": "EUR",
        "lines": [{"sku": "SKU-0001", "quantity": 1, "unit_price_cents": 100}],
    }
    response = httpx.post(
        f"{_api(stack_settings)}/orders", json=body, headers=bearer(api_key), timeout=10
    )
    assert response.status_code == 422
    assert [e["loc"] for e in response.json()["detail"]] == [["body", "customer_id"]]
    assert response.headers["x-content-type-options"] == "nosniff"


def test_health_names_the_dependency_but_not_its_host_port_or_role(
    postgres_up: StackSettings,
) -> None:
    """A real refusal (wrong password): libpq's message names host, port and role."""
    settings = ProducerSettings(_env_file=ROOT / ".env", app_db_password="wrong-on-purpose")
    producer = bootstrap(settings)
    try:
        response = TestClient(create_app(producer)).get("/health")
    finally:
        producer.close()
    assert response.status_code == 503
    assert response.json() == {"status": "unhealthy", "database": "unreachable"}
    for leak in (settings.postgres_host, str(settings.postgres_port), settings.app_db_user):
        assert leak not in response.text
