"""Bad input, generated: bodies and headers from hypothesis strategies (mostly near-valid
orders with one thing wrong, some plain garbage) against the real API and Postgres. No 5xx;
every refusal is a 4xx whose detail says where the problem is; a refused request writes no
row. Oversized bodies and headers are refused before they reach the app."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest
import uvicorn
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from producer_app.bootstrap import Producer
from producer_app.entrypoints.api import create_app
from tests import factories
from tests.conftest import bearer

pytestmark = pytest.mark.integration

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)  # JSON (and httpx) carry neither
    | st.text(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=10,
)
FIELDS = ["customer_id", "currency", "sales_channel", "lines"]
LINE_FIELDS = ["sku", "quantity", "unit_price_cents"]


@st.composite
def bodies(draw: st.DrawFn) -> Any:
    """A valid order with one or two fields broken, a missing or extra field, or garbage."""
    kind = draw(st.sampled_from(["field", "line", "missing", "extra", "garbage"]))
    body = factories.order_payload(customer_id=f"fuzz-{uuid.uuid4().hex[:10]}")
    if kind == "garbage":
        return draw(json_values)
    if kind == "field":
        body[draw(st.sampled_from(FIELDS))] = draw(json_values)
    elif kind == "line":
        body["lines"][0][draw(st.sampled_from(LINE_FIELDS))] = draw(json_values)
    elif kind == "missing":
        body.pop(draw(st.sampled_from(FIELDS)))
    else:
        body[draw(st.text(min_size=1, max_size=12).filter(lambda k: k not in FIELDS))] = 1
    return body


header_values = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=300)


@pytest.fixture(scope="module")
def client(producer: Producer, api_key: str) -> Iterator[TestClient]:
    """A client with a key: the fuzzing is of what a known client may send."""
    app = create_app(producer)
    with TestClient(app, raise_server_exceptions=False, headers=bearer(api_key)) as c:
        yield c


def orders_count(dsn: str, body: Any = None) -> int:
    """Orders this test's requests could have written: every fuzz-* customer, and the body's
    own customer_id when it is a string (other writers may run at the same time)."""
    customer = body.get("customer_id") if isinstance(body, dict) else None
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT count(*) FROM orders.orders WHERE customer_id LIKE 'fuzz-%%' "
            "OR customer_id = %s",
            (customer if isinstance(customer, str) else None,),
        ).fetchone()
    assert row is not None
    return int(row[0])


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=bodies(), key=st.none() | header_values, traceparent=st.none() | header_values)
def test_no_5xx_every_refusal_located_and_nothing_written(
    client: TestClient, admin_dsn: str, body: Any, key: str | None, traceparent: str | None
) -> None:
    headers = {
        k: v for k, v in (("Idempotency-Key", key), ("traceparent", traceparent)) if v is not None
    }
    before = orders_count(admin_dsn, body)
    response = client.post("/orders", json=body, headers=headers)
    assert response.status_code < 500, response.text
    if response.status_code == 201:
        return
    assert 400 <= response.status_code < 500
    details = response.json()["detail"]
    assert details
    assert all(d.get("loc") and d.get("msg") for d in details), details
    assert orders_count(admin_dsn, body) == before


@pytest.fixture(scope="module")
def admin_dsn(postgres_up: Any) -> str:
    return str(postgres_up.admin_dsn())


@pytest.fixture(scope="module")
def live_api(producer: Producer) -> Iterator[str]:
    """The app behind a real uvicorn server, so HTTP-level limits apply."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(producer), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def test_oversized_body_and_headers_are_refused(
    live_api: str, admin_dsn: str, api_key: str
) -> None:
    body = factories.order_payload(customer_id=f"fuzz-{uuid.uuid4().hex[:10]}")
    before = orders_count(admin_dsn, body)
    auth = bearer(api_key)
    big_body = httpx.post(
        f"{live_api}/orders",
        content=b"[" + b"1," * 50_000 + b"1]",
        headers={"Content-Type": "application/json", **auth},
    )
    assert big_body.status_code == 413
    # uvicorn (h11) answers a header block over its limit by closing the connection.
    try:
        huge = httpx.post(
            f"{live_api}/orders", json=body, headers={"X-Padding": "a" * 200_000, **auth}
        ).status_code
    except (httpx.ReadError, httpx.RemoteProtocolError):
        huge = 0
    assert huge == 0 or 400 <= huge < 500
    long_key = httpx.post(
        f"{live_api}/orders", json=body, headers={"Idempotency-Key": "k" * 256, **auth}
    )
    assert long_key.status_code == 422
    assert long_key.json()["detail"][0]["loc"] == ["header", "Idempotency-Key"]
    assert orders_count(admin_dsn, body) == before
