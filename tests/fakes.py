"""In-memory fakes of the producer's ports, for unit tests of the service layer."""

from __future__ import annotations

import copy
import dataclasses
import uuid
from collections.abc import Sequence
from datetime import datetime
from types import TracebackType
from typing import Self

from producer_app.domain.events import Event
from producer_app.domain.model import Order
from producer_app.service_layer.idempotency import IdempotencyRequest, KeyReused
from producer_app.service_layer.results import Result
from producer_app.service_layer.unit_of_work import publish_raised_events


class FakeOrderRepository:
    def __init__(self, committed: dict[uuid.UUID, Order]) -> None:
        self._committed = committed
        self.staged: dict[uuid.UUID, Order] = {}
        self.seen: list[Order] = []

    def add(self, order: Order) -> None:
        self.staged[order.id] = order
        self.seen.append(order)

    def get(self, order_id: uuid.UUID, *, for_update: bool = False) -> Order | None:
        found = self.staged.get(order_id) or self._committed.get(order_id)
        if found is None:
            return None
        order = copy.deepcopy(found)
        self.staged[order_id] = order
        self.seen.append(order)
        return order

    def get_many(self, order_ids: Sequence[uuid.UUID]) -> list[Order]:
        return [o for o in (self.get(i) for i in order_ids) if o is not None]

    def ids_placed(self, since: datetime | None, until: datetime | None) -> list[uuid.UUID]:
        orders = sorted(self._committed.values(), key=lambda o: (o.placed_at, o.id))
        return [
            o.id
            for o in orders
            if (since is None or o.placed_at >= since) and (until is None or o.placed_at < until)
        ]


class FakeEventBus:
    def __init__(self) -> None:
        self.staged: list[Event] = []

    def publish(self, event: Event) -> None:
        self.staged.append(event)


class FakeApiKeys:
    """The ``ApiKeyStore`` port in memory (key -> client; a revoked key is dropped)."""

    def __init__(self) -> None:
        self.clients: dict[str, str] = {}

    def issue(self, client: str) -> str:
        key = f"opk_{uuid.uuid4().hex}"
        self.clients[key] = client
        return key

    def revoke(self, client: str) -> int:
        gone = [k for k, c in self.clients.items() if c == client]
        for key in gone:
            del self.clients[key]
        return len(gone)

    def client_of(self, key: str) -> str | None:
        return self.clients.get(key)


class FakeIdempotencyStore:
    """Same contract as the Postgres store (see tests/integration/test_idempotency_contract)."""

    def __init__(self, committed: dict[tuple[str, str], tuple[str, Result | None]]) -> None:
        self._committed = committed
        self.staged: dict[tuple[str, str], tuple[str, Result | None]] = {}

    def claim(self, request: IdempotencyRequest) -> Result | None:
        key = (request.client, request.key)  # a key is its client's own
        found = self.staged.get(key) or self._committed.get(key)
        if found is None:
            self.staged[key] = (request.fingerprint, None)
            return None
        fingerprint, reply = found
        if fingerprint != request.fingerprint:
            raise KeyReused(request.key)
        assert reply is not None
        return dataclasses.replace(reply, replayed=True)

    def save(self, request: IdempotencyRequest, result: Result) -> None:
        self.staged[(request.client, request.key)] = (request.fingerprint, result)


class FakeUnitOfWork:
    """Keeps committed state across uses, like a database; staged state dies with rollback."""

    def __init__(self) -> None:
        self.committed_orders: dict[uuid.UUID, Order] = {}
        self.published: list[Event] = []
        self.keys: dict[tuple[str, str], tuple[str, Result | None]] = {}
        self.commits = 0

    def __enter__(self) -> Self:
        self.orders = FakeOrderRepository(self.committed_orders)
        self.events = FakeEventBus()
        self.idempotency = FakeIdempotencyStore(self.keys)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.rollback()

    def commit(self) -> None:
        publish_raised_events(self.orders, self.events)
        self.committed_orders.update(self.orders.staged)
        self.published.extend(self.events.staged)
        self.keys.update(self.idempotency.staged)
        self.commits += 1
        self.rollback()

    def rollback(self) -> None:
        self.orders.staged.clear()
        self.events.staged.clear()
        self.idempotency.staged.clear()
