"""One contract, two stores: the in-memory fake the unit tests trust must behave like the
Postgres store (claim, replay, reuse refused, a rolled-back claim frees the key)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import Session

from producer_app.adapters.idempotency import SqlIdempotencyStore
from producer_app.bootstrap import Producer
from producer_app.service_layer.idempotency import (
    IdempotencyRequest,
    IdempotencyStore,
    KeyReused,
)
from producer_app.service_layer.results import Change, Result
from tests.fakes import FakeIdempotencyStore


def _fake() -> Callable[..., Any]:
    committed: dict[tuple[str, str], tuple[str, Result | None]] = {}

    @contextmanager
    def tx(*, commit: bool = True) -> Iterator[IdempotencyStore]:
        store = FakeIdempotencyStore(committed)
        yield store
        if commit:
            committed.update(store.staged)

    return tx


def _sql(producer: Producer) -> Callable[..., Any]:
    @contextmanager
    def tx(*, commit: bool = True) -> Iterator[IdempotencyStore]:
        with Session(producer.engine) as session:
            yield SqlIdempotencyStore(session, timedelta(hours=24))
            if commit:
                session.commit()

    return tx


@pytest.fixture(params=["fake", pytest.param("postgres", marks=pytest.mark.integration)])
def transaction(request: pytest.FixtureRequest) -> Callable[..., Any]:
    if request.param == "fake":
        return _fake()
    return _sql(request.getfixturevalue("producer"))


def _request(key: str, payload: dict[str, Any]) -> IdempotencyRequest:
    return IdempotencyRequest.of(key, "place", payload)


def test_first_claim_proceeds_then_the_saved_reply_is_replayed(
    transaction: Callable[..., Any],
) -> None:
    request = _request(f"k-{uuid.uuid4()}", {"a": 1})
    with transaction() as store:
        assert store.claim(request) is None
        store.save(request, Result(Change.PLACED, {"id": "x"}))
    with transaction() as store:
        assert store.claim(request) == Result(Change.PLACED, {"id": "x"}, replayed=True)


def test_a_different_request_under_the_key_is_refused(transaction: Callable[..., Any]) -> None:
    key = f"k-{uuid.uuid4()}"
    with transaction() as store:
        store.claim(_request(key, {"a": 1}))
        store.save(_request(key, {"a": 1}), Result(Change.PLACED, {}))
    with transaction() as store, pytest.raises(KeyReused):
        store.claim(_request(key, {"a": 2}))


def test_a_rolled_back_claim_frees_the_key(transaction: Callable[..., Any]) -> None:
    request = _request(f"k-{uuid.uuid4()}", {"a": 1})
    with transaction(commit=False) as store:
        assert store.claim(request) is None
    with transaction() as store:
        assert store.claim(request) is None


def test_a_key_is_its_clients_own(transaction: Callable[..., Any]) -> None:
    """Two clients that pick the same key each get their own claim: neither is refused, and
    neither is answered with the other's order."""
    key = f"k-{uuid.uuid4()}"
    mine, theirs = (
        IdempotencyRequest.of(key, "place", {"a": n}, c) for n, c in ((1, "a"), (2, "b"))
    )
    with transaction() as store:
        assert store.claim(mine) is None
        store.save(mine, Result(Change.PLACED, {"id": "mine"}))
    with transaction() as store:
        assert store.claim(theirs) is None
        store.save(theirs, Result(Change.PLACED, {"id": "theirs"}))
    with transaction() as store:
        assert store.claim(mine) == Result(Change.PLACED, {"id": "mine"}, replayed=True)
