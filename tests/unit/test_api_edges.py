"""Request validation at the HTTP edge, before any service runs: a 422 that names the field,
whatever the body holds (found by the fuzz test: ``Infinity`` once turned it into a 500)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from producer_app.entrypoints.api import create_app


def _client() -> TestClient:
    # Validation refuses these bodies before a route (and so the producer) is ever used.
    producer: Any = None
    return TestClient(create_app(producer))


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
