"""Trace context on the wire (``contract.tracing``): ``traceparent`` parsed and written, and
the provider both deployables build (the consumers' spans: tests/unit/middleware/test_trace)."""

from __future__ import annotations

from typing import Any

from opentelemetry.sdk.trace import TracerProvider

from contract.tracing import parent_from, traceparent_of

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"


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
