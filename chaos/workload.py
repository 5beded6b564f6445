"""Clients that place and cancel orders over HTTP the way real clients do: each request carries
the run's API key and an Idempotency-Key, and is retried with the same key on errors and
timeouts until it succeeds."""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from producer_app.bootstrap import bootstrap
from producer_app.settings import ProducerSettings

SKUS = [f"SKU-{i:04d}" for i in range(1, 41)]


def api_key(run_id: str) -> str:
    """A key of the run's own client (``chaos-<run id>``), made as ``make api-key`` does."""
    producer = bootstrap(ProducerSettings())
    try:
        assert producer.keys is not None, "API_KEY_PEPPER is not set in .env"
        return producer.keys.issue(f"chaos-{run_id}")
    finally:
        producer.close()


def http(api: str, key: str) -> httpx.Client:
    return httpx.Client(base_url=api, headers={"Authorization": f"Bearer {key}"})


@dataclass
class WorkloadLog:
    placed: dict[str, str] = field(default_factory=dict)  # idempotency key -> order id
    cancelled: set[str] = field(default_factory=set)
    retries: int = 0
    gave_up: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def _post(
    client: httpx.Client,
    url: str,
    body: dict[str, Any],
    key: str,
    log: WorkloadLog,
    give_up_after: float,
) -> httpx.Response | None:
    deadline = time.monotonic() + give_up_after
    delay = 0.1
    while True:
        try:
            r = client.post(url, json=body, headers={"Idempotency-Key": key}, timeout=10)
            if r.status_code < 500:
                return r
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            with log.lock:
                log.gave_up += 1
            return None
        with log.lock:
            log.retries += 1
        time.sleep(delay)
        delay = min(2.0, delay * 2)


def place_order(
    client: httpx.Client,
    rng: random.Random,
    cancel_ratio: float,
    log: WorkloadLog,
    run_id: str,
    give_up_after: float = 180,
) -> None:
    """One order (and, now and then, its cancellation) as a client would: retried with the
    same Idempotency-Key until it is answered, and written down in ``log``."""
    # Unique per run: a key from an earlier run would only replay that run's order.
    key = f"chaos-{run_id}-{uuid.UUID(int=rng.getrandbits(128), version=4)}"
    body = {
        "customer_id": f"chaos-{rng.randint(1, 500):04d}",
        "currency": "EUR",
        "lines": [
            {
                "sku": sku,
                "quantity": rng.randint(1, 3),
                "unit_price_cents": rng.randint(100, 9_999),
            }
            for sku in rng.sample(SKUS, rng.randint(1, 3))
        ],
    }
    r = _post(client, "/orders", body, key, log, give_up_after)
    if r is None or r.status_code != 201:
        return
    order_id = r.json()["id"]
    with log.lock:
        log.placed[key] = order_id
    if rng.random() < cancel_ratio:
        c = _post(
            client,
            f"/orders/{order_id}/cancel",
            {"reason": "chaos"},
            f"{key}-cancel",
            log,
            give_up_after,
        )
        if c is not None and c.status_code in (200, 409):
            with log.lock:
                log.cancelled.add(order_id)


def run_client(
    api: str,
    key: str,
    orders: int,
    cancel_ratio: float,
    seed: int,
    log: WorkloadLog,
    run_id: str,
    spread: float = 0.0,
) -> None:
    rng = random.Random(seed)
    # Space the orders over ``spread`` seconds, so faults hit while clients are writing.
    interval = spread / orders if orders else 0.0
    next_at = time.monotonic()
    with http(api, key) as client:
        for _ in range(orders):
            next_at += interval
            time.sleep(max(0.0, next_at - time.monotonic()))
            place_order(client, rng, cancel_ratio, log, run_id)


def run(
    api: str,
    key: str,
    *,
    orders: int,
    clients: int,
    cancel_ratio: float,
    seed: int,
    log: WorkloadLog,
    run_id: str,
    spread: float = 0.0,
) -> WorkloadLog:
    per = [orders // clients + (1 if i < orders % clients else 0) for i in range(clients)]
    threads = [
        threading.Thread(
            target=run_client, args=(api, key, n, cancel_ratio, seed + i, log, run_id, spread)
        )
        for i, n in enumerate(per)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return log


def nudger(api: str, key: str, log: WorkloadLog, run_id: str, seed: int) -> Callable[[], None]:
    """One more order, written down like the others: for a fault that needs traffic (a
    consumer to commit, a handler to run) after the clients are done."""
    rng, lock = random.Random(seed ^ 0x5EED), threading.Lock()

    def nudge() -> None:
        with lock, http(api, key) as client:
            place_order(client, rng, 0.0, log, run_id)

    return nudge
