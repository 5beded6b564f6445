"""The Order aggregate: the only way to create or change an order, so its rules hold everywhere.

Invariants are checked where the state changes; a broken one raises ``InvalidOrder`` naming the
field, which the HTTP API turns into a 422 that says which field and why.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from producer_app.domain.events import Event, OrderCancelled, OrderPlaced, PlacedLine, event_id

MAX_LINES = 100
MAX_QUANTITY = 1_000
MAX_UNIT_PRICE_CENTS = 10_000_000  # 100,000.00 in the order's currency
SKU = re.compile(r"^[A-Z0-9][A-Z0-9-]{0,31}$")
# Amounts are in hundredths (cents), so only currencies with two decimals.
CURRENCIES = frozenset({"EUR", "USD", "GBP", "CHF", "SEK", "NOK", "DKK", "PLN"})
CHANNELS = frozenset({"web", "mobile", "partner"})
MAX_REASON = 500
# Text a person typed: no NUL (Postgres text cannot hold it) and no other control character
# (they forge log lines and break what consumers render). Tabs and newlines only in a reason.
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
CONTROL_BUT_WHITESPACE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class OrderStatus(StrEnum):
    PLACED = "placed"
    CANCELLED = "cancelled"


class DomainError(Exception):
    """A rule of the domain was broken; nothing was changed."""


class InvalidOrder(DomainError):
    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        self.message = message


class OrderAlreadyCancelled(DomainError):
    def __init__(self, order_id: uuid.UUID) -> None:
        super().__init__(f"order {order_id} is already cancelled")
        self.order_id = order_id


class LegacyEventIds(DomainError):
    def __init__(self, order_id: uuid.UUID) -> None:
        super().__init__(
            f"order {order_id} was placed before event ids were derived; its events cannot be "
            "raised again with their first ids"
        )
        self.order_id = order_id


@dataclass(frozen=True)
class OrderLine:
    sku: str
    quantity: int
    unit_price_cents: int

    @property
    def amount_cents(self) -> int:
        return self.quantity * self.unit_price_cents


def _check_lines(lines: tuple[OrderLine, ...]) -> None:
    if not lines:
        raise InvalidOrder("lines", "an order needs at least one line")
    if len(lines) > MAX_LINES:
        raise InvalidOrder("lines", f"at most {MAX_LINES} lines")
    seen: set[str] = set()
    for i, line in enumerate(lines):
        if not SKU.match(line.sku):
            raise InvalidOrder(f"lines[{i}].sku", "1-32 of A-Z, 0-9 and '-', starting alphanumeric")
        if line.sku in seen:
            raise InvalidOrder(f"lines[{i}].sku", f"{line.sku} appears twice; merge the lines")
        seen.add(line.sku)
        if not 1 <= line.quantity <= MAX_QUANTITY:
            raise InvalidOrder(f"lines[{i}].quantity", f"must be 1..{MAX_QUANTITY}")
        if not 1 <= line.unit_price_cents <= MAX_UNIT_PRICE_CENTS:
            raise InvalidOrder(f"lines[{i}].unit_price_cents", f"must be 1..{MAX_UNIT_PRICE_CENTS}")


@dataclass
class Order:
    id: uuid.UUID
    customer_id: str
    currency: str
    lines: tuple[OrderLine, ...]
    status: OrderStatus
    placed_at: datetime
    sales_channel: str = "web"
    cancelled_at: datetime | None = None
    cancel_reason: str | None = None
    # False for an order placed before event ids were derived from orders: its first events
    # had random ids, so raising them again would make new events, not the same ones.
    event_ids_derived: bool = True
    # The API client that placed it; None for one placed before clients existed (or by a
    # tool), which no client may read or cancel.
    client: str | None = None
    events: list[Event] = field(default_factory=list, compare=False, repr=False)

    @property
    def total_cents(self) -> int:
        return sum(line.amount_cents for line in self.lines)

    @classmethod
    def place(
        cls,
        *,
        order_id: uuid.UUID,
        customer_id: str,
        currency: str,
        lines: tuple[OrderLine, ...],
        now: datetime,
        sales_channel: str = "web",
        client: str | None = None,
    ) -> Order:
        if not customer_id or len(customer_id) > 64:
            raise InvalidOrder("customer_id", "1-64 characters")
        if CONTROL.search(customer_id):
            raise InvalidOrder("customer_id", "no control characters (NUL, newline, ...)")
        if currency not in CURRENCIES:
            raise InvalidOrder("currency", f"one of {', '.join(sorted(CURRENCIES))}")
        if sales_channel not in CHANNELS:
            raise InvalidOrder("sales_channel", f"one of {', '.join(sorted(CHANNELS))}")
        _check_lines(lines)
        order = cls(order_id, customer_id, currency, lines, OrderStatus.PLACED, now, sales_channel)
        order.client = client
        order.events.append(order._placed())
        return order

    def placed_by(self, client: str) -> bool:
        """Only the client that placed an order may read or cancel it; to any other it does
        not exist (the API answers 404, as for an unknown id, so ids reveal nothing)."""
        return self.client is not None and self.client == client

    def cancel(self, *, reason: str, now: datetime) -> None:
        if self.status is OrderStatus.CANCELLED:
            raise OrderAlreadyCancelled(self.id)
        if not reason.strip() or len(reason) > MAX_REASON:
            raise InvalidOrder("reason", f"1-{MAX_REASON} characters")
        if CONTROL_BUT_WHITESPACE.search(reason):
            raise InvalidOrder("reason", "no control characters but tab and newline")
        self.status = OrderStatus.CANCELLED
        self.cancelled_at = now
        self.cancel_reason = reason
        self.events.append(self._cancelled())

    def republish(self, *, legacy: bool = False) -> None:
        """Raise the order's history again, as it stands: the events it raised when it was
        placed (and cancelled), with the same ids and facts, for consumers that never got them
        (a new group, a rebuild past Kafka's retention). Nothing about the order changes.
        ``legacy``: raise them even for an order whose first events had random ids (they
        become new events to every group: only for a group that never saw the originals)."""
        if not self.event_ids_derived and not legacy:
            raise LegacyEventIds(self.id)
        self.events.append(self._placed())
        if self.status is OrderStatus.CANCELLED:
            self.events.append(self._cancelled())

    def _placed(self) -> OrderPlaced:
        return OrderPlaced(
            order_id=self.id,
            customer_id=self.customer_id,
            currency=self.currency,
            lines=tuple(PlacedLine(li.sku, li.quantity, li.unit_price_cents) for li in self.lines),
            total_cents=self.total_cents,
            placed_at=self.placed_at,
            sales_channel=self.sales_channel,
            event_id=event_id(self.id, "OrderPlaced"),
        )

    def _cancelled(self) -> OrderCancelled:
        assert self.cancelled_at is not None
        assert self.cancel_reason is not None
        return OrderCancelled(
            self.id,
            self.customer_id,
            self.cancel_reason,
            self.cancelled_at,
            event_id=event_id(self.id, "OrderCancelled"),
        )
