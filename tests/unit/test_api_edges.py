"""Request validation at the HTTP edge, before any service runs: a 422 that names the field,
whatever the body holds (found by the fuzz test: ``Infinity`` once turned it into a 500)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import MutableMapping
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.exc import OperationalError

from producer_app.domain.model import InvalidOrder
from producer_app.entrypoints.api import create_app
from producer_app.entrypoints.limits import MAX_BODY_BYTES
from tests import factories
from tests.fakes import FakeApiKeys

_LINE = {"sku": "SKU-0001", "quantity": 1, "unit_price_cents": 100}


def _producer(**parts: Any) -> Any:
    return SimpleNamespace(keys=FakeApiKeys(), **parts)


def _client() -> TestClient:
    """A client with a key: validation refuses these bodies before a route (and so the
    producer's database) is ever used."""
    producer = _producer()
    client = TestClient(create_app(producer))
    client.headers["Authorization"] = f"Bearer {producer.keys.issue('unit')}"
    return client


def test_a_non_finite_number_is_a_422_naming_the_field() -> None:
    body = b'{"customer_id": Infinity, "currency": "EUR", "lines": [{"sku": "SKU-0001", "quantity": NaN, "unit_price_cents": 1}]}'  # noqa: E501
    response = _client().post("/orders", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422
    locs = [e["loc"] for e in response.json()["detail"]]
    assert ["body", "customer_id"] in locs
    assert ["body", "lines", 0, "quantity"] in locs


def test_an_invalid_order_names_each_field() -> None:
    response = _client().post("/orders", json={"customer_id": "c", "currency": "eur", "lines": []})
    assert response.status_code == 422
    assert [e["loc"] for e in response.json()["detail"]] == [
        ["body", "currency"],
        ["body", "lines"],
    ]


def test_nul_or_a_control_character_is_a_422_naming_the_field() -> None:
    client = _client()
    for customer in ["cust\x00", "cust\n1", "\x1b[31mred"]:
        body = {"customer_id": customer, "currency": "EUR", "lines": [_LINE]}
        response = client.post("/orders", json=body)
        assert response.status_code == 422, customer
        assert [e["loc"] for e in response.json()["detail"]] == [["body", "customer_id"]]
    response = client.post(f"/orders/{uuid.uuid4()}/cancel", json={"reason": "no\x00"})
    assert response.status_code == 422
    assert [e["loc"] for e in response.json()["detail"]] == [["body", "reason"]]


def test_the_domain_refuses_control_characters_too() -> None:
    """The seed and any other entrypoint go through the aggregate, not the HTTP models."""
    with pytest.raises(InvalidOrder) as refused:
        factories.order(customer_id="a\x00b")
    assert refused.value.field == "customer_id"
    order = factories.order()
    with pytest.raises(InvalidOrder) as refused:
        order.cancel(reason="bad\x07bell", now=factories.NOW)
    assert refused.value.field == "reason"
    order.cancel(reason="line one\n\tline two", now=factories.NOW)  # whitespace is text


def test_a_declared_length_over_the_limit_is_refused_before_reading() -> None:
    response = _client().post(
        "/orders",
        content=b"x" * (MAX_BODY_BYTES + 1),
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 413
    assert "larger than 65536 bytes" in response.json()["detail"][0]["msg"]


def _chunked(total: int, chunk: int = 16 * 1024) -> tuple[list[int], Any]:
    """An ASGI receive that hands out ``total`` bytes in chunks, as a chunked request does
    (no Content-Length), and counts what the app took."""
    taken = [0]

    async def receive() -> dict[str, Any]:
        if taken[0] >= total:
            return {"type": "http.disconnect"}
        taken[0] += chunk
        return {"type": "http.request", "body": b" " * chunk, "more_body": taken[0] < total}

    return taken, receive


def test_a_chunked_body_over_the_limit_is_a_413_without_being_read_whole() -> None:
    producer = _producer()
    app = create_app(producer)
    key = producer.keys.issue("unit").encode()
    taken, receive = _chunked(4 * 1024 * 1024)
    sent: list[MutableMapping[str, Any]] = []

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/orders",
        "raw_path": b"/orders",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"content-type", b"application/json"),
            (b"transfer-encoding", b"chunked"),
            (b"authorization", b"Bearer " + key),
        ],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 8000),
    }
    asyncio.run(app(scope, receive, send))
    assert sent[0]["status"] == 413
    assert taken[0] <= MAX_BODY_BYTES + 16 * 1024  # stopped one chunk past the limit


def test_security_headers_on_api_responses_and_docs_still_load() -> None:
    client = _client()
    api = client.post("/orders", json={})
    assert api.headers["x-content-type-options"] == "nosniff"
    assert api.headers["x-frame-options"] == "DENY"
    assert api.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
    assert api.headers["cache-control"] == "no-store"
    docs = client.get("/docs")
    assert docs.status_code == 200
    assert "content-security-policy" not in docs.headers  # Swagger UI loads its script
    assert docs.headers["x-content-type-options"] == "nosniff"


class _DownEngine:
    def connect(self) -> Any:
        orig = Exception(
            'connection to server at "10.1.2.3", port 5433 failed: FATAL:  password '
            'authentication failed for user "app"'
        )
        raise OperationalError("SELECT 1", {}, orig)


def test_health_says_which_dependency_is_down_without_its_internals() -> None:
    response = TestClient(create_app(_producer(engine=_DownEngine()))).get("/health")
    assert response.status_code == 503
    assert response.json() == {"status": "unhealthy", "database": "unreachable"}
    for leak in ("10.1.2.3", "5433", '"app"', "password"):
        assert leak not in response.text
