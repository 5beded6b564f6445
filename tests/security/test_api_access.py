"""Issue 25, item 4: the API answered anyone, so anybody who could reach it read or cancelled
any order by its id, and Prometheus answered every web origin. Now every ``/orders`` call
needs a client's API key, an order is its client's alone (to any other it is not found, the
same answer as an unknown id), a revoked key stops working, ``/health`` stays open,
``/metrics`` holds no order's data, and Prometheus sends no CORS header. Against the running
API and Prometheus, as ``make up`` leaves them."""

from __future__ import annotations

import secrets
import time
import uuid

import httpx
import pytest

from producer_app.bootstrap import Producer
from stack.settings import StackSettings
from tests import factories
from tests.conftest import bearer

pytestmark = pytest.mark.integration


@pytest.fixture
def api(apps_running: None, stack_settings: StackSettings) -> str:
    return f"http://127.0.0.1:{stack_settings.api_port}"


def _client(producer: Producer, name: str) -> str:
    assert producer.keys is not None
    return producer.keys.issue(f"{name}-{uuid.uuid4().hex[:6]}")


def test_no_key_or_a_wrong_one_gets_nothing(api: str) -> None:
    order = factories.order_payload()
    unknown = f"opk_{secrets.token_urlsafe(32)}"
    for headers, challenge in [
        ({}, "Bearer"),
        ({"Authorization": "Basic YWRtaW46YWRtaW4="}, "Bearer"),
        (bearer(unknown), 'Bearer error="invalid_token"'),
        (bearer("not a key at all"), 'Bearer error="invalid_token"'),
    ]:
        for method, path, body in [
            ("POST", "/orders", order),
            ("GET", f"/orders/{uuid.uuid4()}", None),
            ("POST", f"/orders/{uuid.uuid4()}/cancel", {"reason": "mine now"}),
        ]:
            answer = httpx.request(method, f"{api}{path}", json=body, headers=headers, timeout=10)
            assert answer.status_code == 401, (headers, path, answer.text)
            assert answer.headers["www-authenticate"] == challenge
            assert answer.json()["detail"][0]["loc"] == ["header", "Authorization"]


def test_an_order_is_its_clients_alone(api: str, producer: Producer) -> None:
    alice, mallory = _client(producer, "alice"), _client(producer, "mallory")
    placed = httpx.post(
        f"{api}/orders", json=factories.order_payload(), headers=bearer(alice), timeout=10
    )
    assert placed.status_code == 201
    order = placed.json()
    stolen = httpx.get(f"{api}/orders/{order['id']}", headers=bearer(mallory), timeout=10)
    unknown_id = uuid.uuid4()
    unknown = httpx.get(f"{api}/orders/{unknown_id}", headers=bearer(mallory), timeout=10)
    assert (stolen.status_code, unknown.status_code) == (404, 404)
    # The same answer as for an id that does not exist: the id itself says nothing.
    assert stolen.text.replace(order["id"], str(unknown_id)) == unknown.text
    cancelled = httpx.post(
        f"{api}/orders/{order['id']}/cancel",
        json={"reason": "not mine"},
        headers=bearer(mallory),
        timeout=10,
    )
    assert cancelled.status_code == 404
    mine = httpx.get(f"{api}/orders/{order['id']}", headers=bearer(alice), timeout=10)
    assert mine.json() == order  # still placed, still alice's
    assert (
        httpx.post(
            f"{api}/orders/{order['id']}/cancel",
            json={"reason": "changed my mind"},
            headers=bearer(alice),
            timeout=10,
        ).json()["status"]
        == "cancelled"
    )


def test_a_revoked_key_stops_working(api: str, producer: Producer) -> None:
    assert producer.keys is not None
    client = f"leaver-{uuid.uuid4().hex[:6]}"
    key = producer.keys.issue(client)
    body = factories.order_payload()
    assert httpx.post(f"{api}/orders", json=body, headers=bearer(key), timeout=10).is_success
    assert producer.keys.revoke(client) == 1
    deadline = time.monotonic() + 10  # the API remembers a live key for 5 s
    while httpx.post(f"{api}/orders", json=body, headers=bearer(key), timeout=10).is_success:
        assert time.monotonic() < deadline, "a revoked key still works"
        time.sleep(0.5)


def test_health_is_open_and_metrics_hold_no_orders(api: str, api_key: str) -> None:
    assert httpx.get(f"{api}/health", timeout=10).json() == {"status": "ok", "database": "ok"}
    body = factories.order_payload()
    order = httpx.post(f"{api}/orders", json=body, headers=bearer(api_key), timeout=10).json()
    exposition = httpx.get(f"{api}/metrics", timeout=10)
    assert exposition.status_code == 200
    for leak in (order["id"], body["customer_id"], api_key):
        assert leak not in exposition.text


def test_prometheus_answers_no_other_origin(
    apps_running: None, stack_settings: StackSettings
) -> None:
    """A page on any site a local user opens could otherwise read every metric."""
    for origin in ("http://evil.example", "null"):
        answer = httpx.get(
            f"http://127.0.0.1:{stack_settings.prometheus_port}/api/v1/query",
            params={"query": "up"},
            headers={"Origin": origin},
            timeout=10,
        )
        assert answer.status_code == 200
        assert "access-control-allow-origin" not in answer.headers, origin
