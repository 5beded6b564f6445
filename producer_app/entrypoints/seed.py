"""Seed data: realistic random orders (some cancelled) through the service layer.

Orders go through the same use cases the API calls, so every one produces its events through
the outbox. A thread pool keeps several transactions in flight; ``rate`` caps orders per second.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from producer_app.bootstrap import Producer
from producer_app.domain.model import OrderLine
from producer_app.service_layer import services
from producer_app.service_layer.idempotency import IdempotencyRequest
from producer_app.service_layer.messages import MessageContext, new_traceparent

# A small catalog: SKU-0001 .. SKU-0040 with stable prices, so read models are easy to check.
CATALOG = {f"SKU-{i:04d}": 199 + (i * 373) % 9_800 for i in range(1, 41)}
CHANNELS = (("web", 0.6), ("mobile", 0.3), ("partner", 0.1))
CURRENCIES = ("EUR", "EUR", "EUR", "USD", "GBP")
REASONS = ("customer changed their mind", "payment failed", "duplicate order", "out of stock")


@dataclass
class SeedResult:
    orders: int = 0
    cancelled: int = 0
    seconds: float = 0.0
    placed_ids: list[uuid.UUID] = field(default_factory=list)
    cancelled_ids: list[uuid.UUID] = field(default_factory=list)

    @property
    def events(self) -> int:
        return self.orders + self.cancelled

    @property
    def orders_per_second(self) -> float:
        return self.orders / self.seconds if self.seconds else 0.0

    def summary(self) -> str:
        return (
            f"seed      {self.orders} orders ({self.cancelled} cancelled), {self.events} "
            f"events in {self.seconds:.1f}s = {self.orders_per_second:.0f} orders/s"
        )


def random_order(rng: random.Random) -> services.PlaceOrder:
    skus = rng.sample(sorted(CATALOG), k=rng.randint(1, 4))
    lines = tuple(OrderLine(sku, rng.randint(1, 5), CATALOG[sku]) for sku in skus)
    channel = rng.choices([c for c, _ in CHANNELS], weights=[w for _, w in CHANNELS])[0]
    return services.PlaceOrder(
        customer_id=f"cust-{rng.randint(1, 5_000):05d}",
        currency=rng.choice(CURRENCIES),
        lines=lines,
        sales_channel=channel,
        order_id=uuid.UUID(int=rng.getrandbits(128), version=4),
    )


class _Pacer:
    """Spaces calls ``1/rate`` seconds apart across threads (no limit when rate is 0)."""

    def __init__(self, rate: float) -> None:
        self._interval = 1.0 / rate if rate > 0 else 0.0
        self._next = time.monotonic()
        self._lock = threading.Lock()

    def wait(self) -> None:
        if not self._interval:
            return
        with self._lock:
            slot = max(self._next, time.monotonic())
            self._next = slot + self._interval
        time.sleep(max(0.0, slot - time.monotonic()))


def seed(
    producer: Producer,
    *,
    client: str,
    orders: int,
    rate: float = 0.0,
    cancel_ratio: float = 0.1,
    workers: int = 4,
    seed_value: int | None = None,
    show_progress: bool = True,
) -> SeedResult:
    """Place ``orders`` as ``client`` (the orders are that client's: its key reads them)."""
    rng = random.Random(seed_value)
    plan = [(random_order(rng), rng.random() < cancel_ratio) for _ in range(orders)]
    pacer = _Pacer(rate)
    result = SeedResult()
    lock = threading.Lock()

    def one(item: tuple[services.PlaceOrder, bool]) -> None:
        cmd, cancel = item
        pacer.wait()
        key = f"seed-{cmd.order_id}"
        ctx = MessageContext(key, new_traceparent())
        payload = {"order_id": str(cmd.order_id)}
        cmd = services.PlaceOrder(
            **{
                **cmd.__dict__,
                "idempotency": IdempotencyRequest.of(key, "place", payload, client),
                "client": client,
            }
        )
        services.place_order(cmd, producer.uow(ctx), producer.clock)
        if cancel:
            services.cancel_order(
                services.CancelOrder(cmd.order_id, rng.choice(REASONS), client),
                producer.uow(MessageContext(None, ctx.traceparent)),
                producer.clock,
            )
        with lock:
            result.orders += 1
            result.cancelled += cancel
            result.placed_ids.append(cmd.order_id)
            if cancel:
                result.cancelled_ids.append(cmd.order_id)

    started = time.monotonic()
    with Progress(
        TextColumn("seeding"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        disable=not show_progress,
    ) as progress:
        task = progress.add_task("orders", total=orders)
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for _ in pool.map(one, plan):
                progress.advance(task)
    result.seconds = time.monotonic() - started
    return result
