"""``trace``, with the SDK's in-memory exporter: each message run is a CONSUMER span whose
parent is the ``traceparent`` header, ending with its outcome (dead letters as errors)."""

from __future__ import annotations

from typing import Any

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from consumer_runtime import Delivery, HandlerContext, Message, Outcome, handler
from consumers.events import OrderCancelled, OrderPlaced
from tests import factories
from tests.consumer_fakes import FakeDatabase, FakeTransaction, chain_for

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"


@handler("inventory")
def accepts(event: OrderPlaced | OrderCancelled, ctx: HandlerContext) -> None: ...


@handler("inventory")
def refuses(event: OrderPlaced | OrderCancelled, ctx: HandlerContext) -> None:
    raise ValueError("no such sku")


def _traced_run(handle: Any, headers: tuple[tuple[str, bytes], ...]) -> tuple[Outcome, Any]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    chain = chain_for(handle, attempts=1, tracer=provider.get_tracer("test"))
    m = factories.kafka_message(factories.placed_record(), partition=3, offset=41)
    message = Message(m.topic, 3, 41, m.key, m.value, (*m.headers, *headers))
    outcome = chain(Delivery(message, "inventory", FakeTransaction(FakeDatabase())))
    [span] = exporter.get_finished_spans()
    return outcome, span


def test_a_handled_message_is_a_consumer_span_under_the_producers_context() -> None:
    outcome, span = _traced_run(accepts, (("traceparent", f"00-{TRACE}-{PARENT}-01".encode()),))
    assert outcome is Outcome.HANDLED
    assert span.kind is SpanKind.CONSUMER
    assert f"{span.context.trace_id:032x}" == TRACE
    assert span.parent is not None
    assert f"{span.parent.span_id:016x}" == PARENT
    assert span.attributes["messaging.consumer.group.name"] == "inventory"
    assert span.attributes["messaging.destination.partition.id"] == "3"
    assert span.attributes["messaging.kafka.offset"] == 41
    assert span.attributes["messaging.message.id"]
    assert span.attributes["outbox.outcome"] == "handled"


def test_a_dead_lettered_message_ends_its_span_as_an_error() -> None:
    outcome, span = _traced_run(refuses, ())
    assert outcome is Outcome.DEAD_LETTERED
    assert span.status.status_code is StatusCode.ERROR
    assert span.parent is None  # no traceparent: a trace of its own
