"""One trace from ``POST /orders`` to the three handlers' spans, end to end through Postgres,
Debezium and Kafka, collected by the SDK's in-memory exporter: the request's SERVER span, the
outbox write's PRODUCER span under it, and one CONSUMER span per group under that, its
parent read from the ``traceparent`` header the outbox router copied from the row."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from bench.consumer_rates import forget_group
from consumer_runtime import Extras
from consumers.bootstrap import Running, bootstrap
from consumers.handlers import REGISTRY
from consumers.settings import ConsumerSettings
from contract.topics import ORDER_EVENTS
from producer_app.bootstrap import bootstrap as bootstrap_producer
from producer_app.entrypoints.api import create_app
from producer_app.settings import ProducerSettings
from stack.rest import ConnectRest
from stack.settings import StackSettings
from tests import factories
from tests.conftest import ROOT, bearer
from tests.kafka_helpers import register_connector, start_at_the_end

pytestmark = pytest.mark.e2e


@pytest.fixture
def traced() -> tuple[TracerProvider, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


@pytest.fixture
def three_groups(
    connect_up: ConnectRest,
    stack_settings: StackSettings,
    traced: tuple[TracerProvider, InMemorySpanExporter],
) -> Iterator[list[Running]]:
    """Each handler on a Kafka group of its own (``<name>.trace-*``, its principal's), in a
    thread, from the end of the topic, with the in-memory tracer."""
    register_connector(connect_up)
    settings = ConsumerSettings(_env_file=ROOT / ".env")
    provider, _ = traced
    suffix = uuid.uuid4().hex[:8]
    running = []
    for name, registration in sorted(REGISTRY.items()):
        group = f"{name}.trace-{suffix}"
        start_at_the_end(settings.kafka_for(name), ORDER_EVENTS, group)
        running.append(
            bootstrap(
                settings,
                registration,
                extras=Extras(tracer=provider.get_tracer("consumers")),
                kafka_group=group,
            )
        )
    threads = [threading.Thread(target=r.processor.run, daemon=True) for r in running]
    for t in threads:
        t.start()
    yield running
    for r in running:
        r.processor.stop()
    for t in threads:
        t.join(60)
    for r in running:
        r.close()
    # Gone, or `make lag` would list these groups, further behind with every order, for good.
    admin = stack_settings.kafka_as("admin")
    for name in REGISTRY:
        forget_group(admin, f"{name}.trace-{suffix}")


def _wait_for(check: Any, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    return check()


def test_one_trace_from_post_orders_to_the_three_handlers(
    traced: tuple[TracerProvider, InMemorySpanExporter],
    three_groups: list[Running],
    api_key: str,
) -> None:
    provider, exporter = traced
    # Every group holds its partitions before the order is placed.
    _wait_for(lambda: all(r.processor.assignment() for r in three_groups), 60)
    producer = bootstrap_producer(
        ProducerSettings(_env_file=ROOT / ".env"), tracer_provider=provider
    )
    try:
        app = create_app(producer, tracer_provider=provider)
        with TestClient(app, headers=bearer(api_key)) as api:
            reply = api.post("/orders", json=factories.order_payload())
    finally:
        producer.close()
    assert reply.status_code == 201
    spans: list[ReadableSpan] = list(exporter.get_finished_spans())
    [server] = [s for s in spans if s.kind is SpanKind.SERVER]
    [write] = [s for s in spans if s.kind is SpanKind.PRODUCER]
    trace_id = server.context.trace_id
    assert write.context.trace_id == trace_id
    assert write.attributes is not None
    assert write.attributes["outbox.event_type"] == "OrderPlaced"
    # The outbox write is inside the request's span (the instrumentation's own spans may sit
    # between them), and the reply names the request's trace.
    by_id = {s.context.span_id: s for s in spans}
    ancestor = write
    while ancestor.parent is not None and ancestor is not server:
        ancestor = by_id[ancestor.parent.span_id]
    assert ancestor is server, "the outbox write is not under the request's span"
    assert reply.headers["traceparent"].split("-")[1] == f"{trace_id:032x}"

    def handler_spans() -> dict[str, ReadableSpan]:
        found = {}
        for s in exporter.get_finished_spans():
            if s.kind is SpanKind.CONSUMER and s.context.trace_id == trace_id and s.attributes:
                found[str(s.attributes["messaging.consumer.group.name"])] = s
        return found if len(found) == len(REGISTRY) else {}

    consumed = _wait_for(handler_spans, 90)
    assert set(consumed) == set(REGISTRY), "a group's span is missing from the trace"
    for group, span in consumed.items():
        assert span.parent is not None, group
        assert span.parent.span_id == write.context.span_id, group
        assert span.attributes is not None
        assert span.attributes["messaging.message.id"] == write.attributes["messaging.message.id"]
        assert span.attributes["outbox.outcome"] in ("handled", "duplicate")
