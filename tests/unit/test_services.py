"""Use cases against the in-memory unit of work: events published only on commit, results
replayed for a repeated Idempotency-Key."""

from __future__ import annotations

import uuid

import pytest

from producer_app.domain.events import OrderCancelled, OrderPlaced
from producer_app.domain.model import InvalidOrder, OrderAlreadyCancelled, OrderLine
from producer_app.service_layer import services
from producer_app.service_layer.idempotency import IdempotencyRequest, KeyReused
from producer_app.service_layer.results import Change
from tests import factories
from tests.factories import CLIENT, NOW
from tests.fakes import FakeUnitOfWork


def test_place_order_commits_order_and_its_event_together() -> None:
    uow = FakeUnitOfWork()
    result = services.place_order(factories.place_cmd(), uow, lambda: NOW)
    assert result.change is Change.PLACED
    assert not result.replayed
    [event] = uow.published
    assert isinstance(event, OrderPlaced)
    assert str(event.order_id) == result.order["id"]
    assert uuid.UUID(result.order["id"]) in uow.committed_orders


def test_an_invalid_order_publishes_nothing() -> None:
    uow = FakeUnitOfWork()
    with pytest.raises(InvalidOrder):
        services.place_order(
            factories.place_cmd(lines=(OrderLine("SKU-1", 0, 1),)), uow, lambda: NOW
        )
    assert uow.published == []
    assert uow.committed_orders == {}
    assert uow.commits == 0


def test_cancel_publishes_order_cancelled_and_refuses_a_second_cancel() -> None:
    uow = FakeUnitOfWork()
    placed = services.place_order(factories.place_cmd(), uow, lambda: NOW)
    order_id = uuid.UUID(placed.order["id"])
    result = services.cancel_order(
        services.CancelOrder(order_id, "payment failed", CLIENT), uow, lambda: NOW
    )
    assert result.change is Change.CANCELLED
    assert result.order["status"] == "cancelled"
    assert isinstance(uow.published[-1], OrderCancelled)
    with pytest.raises(OrderAlreadyCancelled):
        services.cancel_order(services.CancelOrder(order_id, "again", CLIENT), uow, lambda: NOW)
    assert len(uow.published) == 2


def test_cancel_of_an_unknown_order_is_not_found() -> None:
    with pytest.raises(services.OrderNotFound):
        services.cancel_order(
            services.CancelOrder(uuid.uuid4(), "x", CLIENT), FakeUnitOfWork(), lambda: NOW
        )


def test_an_order_is_its_clients_alone() -> None:
    """Another client neither reads nor cancels it: to it there is no such order, as for an
    unknown id. An order placed before clients existed belongs to none."""
    uow = FakeUnitOfWork()
    placed = services.place_order(factories.place_cmd(), uow, lambda: NOW)
    order_id = uuid.UUID(placed.order["id"])
    assert services.get_order(order_id, CLIENT, uow) == placed.order
    with pytest.raises(services.OrderNotFound):
        services.get_order(order_id, "mallory", uow)
    with pytest.raises(services.OrderNotFound):
        services.cancel_order(services.CancelOrder(order_id, "mine", "mallory"), uow, lambda: NOW)
    assert uow.committed_orders[order_id].status.value == "placed"
    legacy = services.place_order(factories.place_cmd(client=None), uow, lambda: NOW)
    with pytest.raises(services.OrderNotFound):
        services.get_order(uuid.UUID(legacy.order["id"]), CLIENT, uow)


def test_two_clients_choosing_the_same_key_never_meet() -> None:
    uow = FakeUnitOfWork()
    mine = services.place_order(
        factories.place_cmd(idempotency=IdempotencyRequest.of("k", "place", {"a": 1}, CLIENT)),
        uow,
        lambda: NOW,
    )
    theirs = services.place_order(
        factories.place_cmd(
            client="bob", idempotency=IdempotencyRequest.of("k", "place", {"a": 1}, "bob")
        ),
        uow,
        lambda: NOW,
    )
    assert not theirs.replayed
    assert theirs.order["id"] != mine.order["id"]


def test_same_key_same_request_replays_and_writes_nothing() -> None:
    uow = FakeUnitOfWork()
    request = IdempotencyRequest.of("key-1", "place", {"a": 1})
    cmd = factories.place_cmd(idempotency=request)
    first = services.place_order(cmd, uow, lambda: NOW)
    again = services.place_order(factories.place_cmd(idempotency=request), uow, lambda: NOW)
    assert again.replayed
    assert (again.change, again.order) == (first.change, first.order)
    assert len(uow.committed_orders) == 1
    assert len(uow.published) == 1


def test_same_key_other_request_is_refused() -> None:
    uow = FakeUnitOfWork()
    services.place_order(
        factories.place_cmd(idempotency=IdempotencyRequest.of("k", "place", {"a": 1})),
        uow,
        lambda: NOW,
    )
    with pytest.raises(KeyReused, match="different request"):
        services.place_order(
            factories.place_cmd(idempotency=IdempotencyRequest.of("k", "place", {"a": 2})),
            uow,
            lambda: NOW,
        )
    assert len(uow.committed_orders) == 1


def test_request_fingerprint_ignores_key_order_but_not_values() -> None:
    a = IdempotencyRequest.of("k", "place", {"x": 1, "y": [1, 2]})
    b = IdempotencyRequest.of("k", "place", {"y": [1, 2], "x": 1})
    c = IdempotencyRequest.of("k", "place", {"x": 1, "y": [2, 1]})
    assert a.fingerprint == b.fingerprint != c.fingerprint


def test_republish_writes_each_order_history_again_with_the_first_ids() -> None:
    uow = FakeUnitOfWork()
    kept = services.place_order(factories.place_cmd(), uow, lambda: NOW)
    gone = services.place_order(factories.place_cmd(), uow, lambda: NOW)
    gone_id = uuid.UUID(gone.order["id"])
    services.cancel_order(services.CancelOrder(gone_id, "payment failed", CLIENT), uow, lambda: NOW)
    first = list(uow.published)
    ids = services.order_ids_placed(None, None, uow)
    assert set(ids) == {uuid.UUID(kept.order["id"]), gone_id}
    unknown = uuid.uuid4()
    done = services.republish_orders(services.RepublishOrders((*ids, unknown)), uow)
    assert (done.orders, done.events, done.legacy_skipped) == (2, 3, 0)
    again = uow.published[len(first) :]
    assert sorted(e.event_id.hex for e in again) == sorted(e.event_id.hex for e in first)
    assert {e.event_id: e for e in again} == {e.event_id: e for e in first}


def test_republish_leaves_out_orders_whose_first_events_had_random_ids() -> None:
    uow = FakeUnitOfWork()
    placed = services.place_order(factories.place_cmd(), uow, lambda: NOW)
    order_id = uuid.UUID(placed.order["id"])
    uow.committed_orders[order_id].event_ids_derived = False
    published = len(uow.published)
    done = services.republish_orders(services.RepublishOrders((order_id,)), uow)
    assert (done.orders, done.events, done.legacy_skipped) == (0, 0, 1)
    assert len(uow.published) == published
    done = services.republish_orders(services.RepublishOrders((order_id,), legacy=True), uow)
    assert (done.orders, done.events, done.legacy_skipped) == (1, 1, 0)
