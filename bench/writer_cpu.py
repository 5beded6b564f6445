"""The writer's CPU per order: the service layer (domain, unit of work, SQLModel session,
Avro encoding, outbox row) against a bare psycopg transaction writing the same rows.

Both run one order at a time on the calling thread against the same scratch database, and
each is charged the thread's own CPU time (``time.thread_time``), so neither the server's
work nor other threads of the benchmark count. The bare transaction gets its payload encoded
beforehand; the service layer encodes its own, which is part of what it costs.

``python -m bench.writer_cpu`` after ``make up`` (a scratch database; the connector is not
touched, since the scratch database is not the one Debezium reads).
"""

from __future__ import annotations

import time
from typing import Any

import psycopg

from bench.limits import bare_order, sample_record
from bench.scratch import scratch_producer_db
from contract import AvroCodec, SchemaRepository
from producer_app.bootstrap import bootstrap
from producer_app.domain.model import OrderLine
from producer_app.entrypoints.seed import CATALOG
from producer_app.service_layer import services
from producer_app.service_layer.messages import MessageContext, new_traceparent
from producer_app.settings import ProducerSettings
from stack.settings import StackSettings


def bare_us(settings: ProducerSettings, orders: int) -> float:
    """Thread CPU-µs per bare transaction: order, two lines, outbox insert and delete."""
    payload = AvroCodec(SchemaRepository.load()).encode(
        sample_record(), SchemaRepository.load().get("OrderPlaced")
    )
    with psycopg.connect(settings.conninfo()) as conn:
        started = time.thread_time()
        for _ in range(orders):
            bare_order(conn, payload)
        return (time.thread_time() - started) / orders * 1e6


def service_us(settings: ProducerSettings, orders: int) -> float:
    """Thread CPU-µs per ``place_order`` with two lines, no Idempotency-Key (the same rows
    as the bare transaction), through the app's own bootstrap."""
    producer = bootstrap(settings)
    skus = sorted(CATALOG)[:2]
    lines = tuple(OrderLine(sku, 1, CATALOG[sku]) for sku in skus)
    try:
        place = services.PlaceOrder(customer_id="cust-00042", currency="EUR", lines=lines)
        services.place_order(place, producer.uow(MessageContext(None, None)), producer.clock)
        started = time.thread_time()
        for _ in range(orders):
            cmd = services.PlaceOrder(customer_id="cust-00042", currency="EUR", lines=lines)
            ctx = MessageContext(None, new_traceparent())
            services.place_order(cmd, producer.uow(ctx), producer.clock)
        return (time.thread_time() - started) / orders * 1e6
    finally:
        producer.close()


def measure(settings: ProducerSettings, orders: int) -> dict[str, Any]:
    """Alternated halves (bare, service, bare, service), so a busy spell of the machine does
    not land on one side only."""
    half = max(1, orders // 2)
    bare: list[float] = []
    service: list[float] = []
    for _ in range(2):
        bare.append(bare_us(settings, half))
        service.append(service_us(settings, half))
    bare_cpu, service_cpu = sum(bare) / 2, sum(service) / 2
    return {
        "orders": 2 * half,
        "bare_cpu_us": round(bare_cpu, 1),
        "service_cpu_us": round(service_cpu, 1),
        "ratio": round(service_cpu / bare_cpu, 2),
    }


def main() -> None:
    with scratch_producer_db(StackSettings(), ProducerSettings()) as scratch:
        print(measure(scratch, 2_000))


if __name__ == "__main__":
    main()
