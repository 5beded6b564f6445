"""The port for orders: what the service layer needs of their storage (an adapter implements
it with SQLModel, the unit tests with a dict)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from producer_app.domain.model import Order


class OrderRepository(Protocol):
    """Orders by id. ``seen`` holds every aggregate added or loaded in this unit of work, so the
    unit of work can publish the events they raised and save their changes at commit."""

    seen: list[Order]

    def add(self, order: Order) -> None:
        """Stage a new order for insertion in the current transaction."""

    def get(self, order_id: uuid.UUID, *, for_update: bool = False) -> Order | None:
        """The order, or None. ``for_update`` locks its row until the transaction ends, so two
        concurrent changes of one order run one after the other."""

    def get_many(self, order_ids: Sequence[uuid.UUID]) -> list[Order]:
        """The orders that exist among ``order_ids``, in that order, each share-locked until
        the transaction ends (a concurrent cancel waits, so its event follows theirs)."""

    def ids_placed(self, since: datetime | None, until: datetime | None) -> list[uuid.UUID]:
        """Ids of the orders placed in ``[since, until)`` (open ends: unbounded), oldest
        first: the order their events were first published in."""
