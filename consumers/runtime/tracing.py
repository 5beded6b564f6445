"""The ``trace`` middleware: one CONSUMER span per message run through a group's chain, the
child of the span that wrote the event to the outbox (its ``traceparent`` header), so that
one trace runs from ``POST /orders`` to every group that handled it.

It sits just inside ``log_context`` and outside ``dead_letter``: the span covers decoding,
every retry and the dead-lettering, and ends with the message's outcome. An outage passes
through it as an error: the batch is rolled back and run again, and that run is a new span
(both were real attempts). Attributes follow OpenTelemetry's messaging conventions.
"""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer
from opentelemetry.util.types import AttributeValue

from consumers.runtime.layers import layer
from consumers.runtime.message import Delivery, Middleware, Outcome, Step
from contract import headers as h
from contract.tracing import parent_from


def traced(tracer: Tracer | None = None) -> Middleware:
    """``tracer``: the process's (``python -m consumers`` makes one); the global, a no-op
    unless set, when None."""
    spans = tracer or trace.get_tracer("consumers")

    @layer("trace")
    def middleware(step: Step) -> Step:
        def run(d: Delivery) -> Outcome:
            m = d.message
            attributes: dict[str, AttributeValue] = {
                "messaging.system": "kafka",
                "messaging.operation.type": "process",
                "messaging.destination.name": m.topic,
                "messaging.destination.partition.id": str(m.partition),
                "messaging.kafka.offset": m.offset,
                "messaging.consumer.group.name": d.group,
            }
            event_id = m.header(h.EVENT_ID)
            if event_id is not None:
                attributes["messaging.message.id"] = event_id
            with spans.start_as_current_span(
                f"process {m.topic}",
                context=parent_from(m.header(h.TRACEPARENT)),
                kind=SpanKind.CONSUMER,
                attributes=attributes,
            ) as span:
                outcome = step(d)
                span.set_attribute("outbox.outcome", outcome.value)
                if outcome is Outcome.DEAD_LETTERED:
                    span.set_status(Status(StatusCode.ERROR, "dead-lettered"))
                return outcome

        return run

    return middleware
