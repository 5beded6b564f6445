"""Trace context on the wire, and the tracer provider both deployables build the same way.

The W3C ``traceparent`` travels from the HTTP request into the outbox row, from there into
the Kafka headers (the outbox router copies the column, ``connectors/``), and from the headers
into each handler's span: one trace from ``POST /orders`` to every group that handled it.

Spans are made and exported over OTLP only when the standard ``OTEL_EXPORTER_OTLP_ENDPOINT``
(or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) is set. Otherwise there is no provider at all: a
span nobody receives costs the consumers ~50 us of CPU per event (``bench.observability``),
and the ``traceparent`` travels all the same, the caller's or a fresh one, so that logs and a
later collector still see one trace. ``OTEL_SERVICE_NAME`` and the other standard variables
apply as usual.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.propagators.textmap import default_getter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Span
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from contract import headers as h

_PROPAGATOR = TraceContextTextMapPropagator()
ENDPOINT_VARS = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")


def provider(service: str, environ: Mapping[str, str] = os.environ) -> TracerProvider | None:
    """The deployable's tracer provider exporting over OTLP/HTTP, or None when no endpoint is
    configured (then nothing is traced: see the module's docstring)."""
    if not any(environ.get(var) for var in ENDPOINT_VARS):
        return None
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    tracer_provider = TracerProvider(
        resource=Resource.create({"service.name": environ.get("OTEL_SERVICE_NAME", service)})
    )
    endpoint = environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or (
        environ["OTEL_EXPORTER_OTLP_ENDPOINT"].rstrip("/") + "/v1/traces"  # the spec's rule
    )
    tracer_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    return tracer_provider


def parent_from(traceparent: str | None) -> otel_context.Context | None:
    """The remote parent a ``traceparent`` value names; None when absent or malformed (the
    span then starts a trace of its own)."""
    if not traceparent:
        return None
    extracted = _PROPAGATOR.extract({h.TRACEPARENT: traceparent}, getter=default_getter)
    if not trace.get_current_span(extracted).get_span_context().is_valid:
        return None
    return extracted


def traceparent_of(span: Span) -> str | None:
    """The ``traceparent`` that makes ``span`` the parent of whatever reads it (None for a
    span with no valid context: a no-op tracer's)."""
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier, context=trace.set_span_in_context(span))
    return carrier.get(h.TRACEPARENT)
