"""Trace context through the consumer chain, with the SDK's in-memory exporter: each message
run is a CONSUMER span whose parent is the ``traceparent`` header, ending with its outcome."""

from __future__ import annotations

from typing import Any

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from consumers.events import OrderCancelled, OrderPlaced
from consumers.runtime.chain import build_chain
from consumers.runtime.message import Delivery, Message, Outcome
from consumers.runtime.registry import Registration
from contract import AvroCodec, SchemaRepository
from contract.tracing import parent_from, traceparent_of
from tests import factories
from tests.consumer_fakes import FakeDatabase, FakeTransaction, RecordingSink

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"


def _traced_run(handle: Any, headers: tuple[tuple[str, bytes], ...]) -> tuple[Outcome, Any]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    chain = build_chain(
        Registration.of("inventory", handle, OrderPlaced, OrderCancelled),
        AvroCodec(SchemaRepository.load()),
        RecordingSink(),
        attempts=1,
        base=0,
        cap=0,
        timeout_s=5,
        tracer=provider.get_tracer("test"),
    )
    m = factories.kafka_message(factories.placed_record(), partition=3, offset=41)
    message = Message(m.topic, 3, 41, m.key, m.value, (*m.headers, *headers))
    outcome = chain(Delivery(message, "inventory", FakeTransaction(FakeDatabase())))
    [span] = exporter.get_finished_spans()
    return outcome, span


def test_a_handled_message_is_a_consumer_span_under_the_producers_context() -> None:
    outcome, span = _traced_run(
        lambda e, ctx: None, (("traceparent", f"00-{TRACE}-{PARENT}-01".encode()),)
    )
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
    def refuse(event: Any, ctx: Any) -> None:
        raise ValueError("no such sku")

    outcome, span = _traced_run(refuse, ())
    assert outcome is Outcome.DEAD_LETTERED
    assert span.status.status_code is StatusCode.ERROR
    assert span.parent is None  # no traceparent: a trace of its own


def test_a_malformed_traceparent_starts_a_new_trace() -> None:
    assert parent_from("00-not-a-trace-01") is None
    assert parent_from(None) is None
    assert parent_from(f"00-{TRACE}-{PARENT}-01") is not None


def test_traceparent_of_a_span_names_it() -> None:
    provider = TracerProvider()
    with provider.get_tracer("t").start_as_current_span("s") as span:
        written = traceparent_of(span)
    ctx = span.get_span_context()
    assert written == f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-{ctx.trace_flags:02x}"
    assert ctx.trace_flags.sampled


def test_no_endpoint_no_provider_and_the_spec_s_path_otherwise() -> None:
    from contract.tracing import provider

    assert provider("api", {}) is None
    traced = provider("api", {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318/"})
    assert traced is not None
    [processor] = traced._active_span_processor._span_processors
    exporter: Any = getattr(processor, "span_exporter", None)
    assert exporter is not None
    assert exporter._endpoint == "http://collector:4318/v1/traces"
    assert traced.resource.attributes["service.name"] == "api"
    traced.shutdown()
