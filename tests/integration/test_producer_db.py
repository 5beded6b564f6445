"""The producer against real Postgres: one transaction or nothing, idempotent replays, bad
input writes no row."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from producer_app.adapters import avro_events
from producer_app.bootstrap import Producer
from producer_app.service_layer import services
from producer_app.service_layer.messages import MessageContext
from producer_app.service_layer.results import Change
from tests import factories

pytestmark = pytest.mark.integration
Conn = psycopg.Connection[tuple[Any, ...]]


def rows_for(conn: Conn, customer_id: str) -> tuple[int, int]:
    orders = conn.execute(
        "SELECT count(*) FROM orders.orders WHERE customer_id = %s", (customer_id,)
    ).fetchone()
    lines = conn.execute(
        "SELECT count(*) FROM orders.order_lines l JOIN orders.orders o ON o.id = l.order_id "
        "WHERE o.customer_id = %s",
        (customer_id,),
    ).fetchone()
    assert orders is not None
    assert lines is not None
    return orders[0], lines[0]


def test_place_commits_order_lines_and_leaves_outbox_empty(
    producer: Producer, admin_conn: Conn
) -> None:
    cmd = factories.place_cmd()
    result = services.place_order(cmd, producer.uow(MessageContext("k", None)), producer.clock)
    assert result.change is Change.PLACED
    assert rows_for(admin_conn, cmd.customer_id) == (1, 2)
    left = admin_conn.execute(
        "SELECT count(*) FROM orders.outbox WHERE aggregate_id = %s", (str(cmd.order_id),)
    ).fetchone()
    assert left == (0,)  # deleted in the same transaction that inserted it


def test_failure_between_order_insert_and_outbox_insert_leaves_nothing(
    producer: Producer, admin_conn: Conn, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(event: object) -> dict[str, object]:
        raise RuntimeError("serializer crashed after the order rows were written")

    monkeypatch.setattr(avro_events, "to_record", explode)
    cmd = factories.place_cmd()
    with pytest.raises(RuntimeError, match="serializer crashed"):
        services.place_order(cmd, producer.uow(MessageContext()), producer.clock)
    assert rows_for(admin_conn, cmd.customer_id) == (0, 0)


def test_replay_with_same_key_and_body_returns_first_reply_and_writes_nothing(
    api: TestClient, admin_conn: Conn
) -> None:
    body, key = factories.order_payload(), f"key-{uuid.uuid4()}"
    first = api.post("/orders", json=body, headers={"Idempotency-Key": key})
    again = api.post("/orders", json=body, headers={"Idempotency-Key": key})
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert rows_for(admin_conn, body["customer_id"]) == (1, 2)


def test_same_key_with_another_body_is_refused_clearly(api: TestClient, admin_conn: Conn) -> None:
    body, key = factories.order_payload(), f"key-{uuid.uuid4()}"
    assert api.post("/orders", json=body, headers={"Idempotency-Key": key}).status_code == 201
    other = {**body, "currency": "USD"}
    refused = api.post("/orders", json=other, headers={"Idempotency-Key": key})
    assert refused.status_code == 409  # a conflict with the key's state, not a bad body
    [detail] = refused.json()["detail"]
    assert detail["loc"] == ["header", "Idempotency-Key"]
    assert "different request" in detail["msg"]
    assert rows_for(admin_conn, body["customer_id"]) == (1, 2)


def test_concurrent_requests_with_one_key_create_one_order(
    api: TestClient, admin_conn: Conn
) -> None:
    body, key = factories.order_payload(), f"key-{uuid.uuid4()}"
    start = threading.Barrier(8)
    replies: list[tuple[int, dict[str, Any]]] = []

    def post() -> None:
        start.wait()
        r = api.post("/orders", json=body, headers={"Idempotency-Key": key})
        replies.append((r.status_code, r.json()))

    threads = [threading.Thread(target=post) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert {status for status, _ in replies} == {201}
    assert len({reply["id"] for _, reply in replies}) == 1
    assert rows_for(admin_conn, body["customer_id"]) == (1, 2)


@pytest.mark.parametrize(
    ("mutate", "loc"),
    [
        (lambda b: b.update(currency="euro"), ["body", "currency"]),
        (lambda b: b.update(lines=[]), ["body", "lines"]),
        (lambda b: b["lines"][0].update(quantity=0), ["body", "lines", 0, "quantity"]),
        (lambda b: b["lines"][1].update(sku="bad sku"), ["body", "lines", 1, "sku"]),
        (lambda b: b.pop("customer_id"), ["body", "customer_id"]),
        (lambda b: b.update(currency="XXX"), ["body", "currency"]),
        (lambda b: b["lines"][1].update(sku="SKU-0001"), ["body", "lines", "1", "sku"]),
    ],
)
def test_bad_input_is_a_422_naming_the_field_and_writes_nothing(
    api: TestClient, admin_conn: Conn, mutate: Any, loc: list[object]
) -> None:
    body = factories.order_payload()
    customer = body.get("customer_id", "")
    mutate(body)
    response = api.post("/orders", json=body)
    assert response.status_code == 422
    assert loc in [d["loc"] for d in response.json()["detail"]]
    assert rows_for(admin_conn, customer) == (0, 0)


def test_oversized_body_is_refused(api: TestClient) -> None:
    response = api.post(
        "/orders", content=b"{" + b" " * 70_000 + b"}", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413


def test_read_and_cancel_through_the_api(api: TestClient) -> None:
    placed = api.post("/orders", json=factories.order_payload()).json()
    assert api.get(f"/orders/{placed['id']}").json() == placed
    cancelled = api.post(f"/orders/{placed['id']}/cancel", json={"reason": "payment failed"})
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    again = api.post(f"/orders/{placed['id']}/cancel", json={"reason": "again"})
    assert again.status_code == 409
    assert api.get(f"/orders/{uuid.uuid4()}").status_code == 404
    assert api.get("/health").json() == {"status": "ok", "database": "ok"}
