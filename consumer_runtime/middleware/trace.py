"""``trace``: one CONSUMER span per message run through a group's chain, the
child of the span that wrote the event to the outbox (its ``traceparent`` header), so that
one trace runs from ``POST /orders`` to every group that handled it.

It sits just inside ``log_context`` and outside ``dead_letter``: the span covers decoding,
every retry and the dead-lettering, and ends with the message's outcome. An outage passes
through it as an error: the batch is rolled back and run again, and that run is a new span
(both were real attempts). Attributes follow OpenTelemetry's messaging conventions.
"""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer
from opentelemetry.util.types import AttributeValue

from consumer_runtime.delivery import Delivery, Middleware, Step
from consumer_runtime.message import Message, Outcome
from consumer_runtime.middleware.chain import layer
from contract import headers as h
from contract.tracing import parent_from


def start_span(spans: Tracer, m: Message, group: str) -> Span:
    """The CONSUMER span of one message's run in ``group``, started (not made current), the
    child of the outbox write's span when the message carries its ``traceparent``."""
    attributes: dict[str, AttributeValue] = {
        "messaging.system": "kafka",
        "messaging.operation.type": "process",
        "messaging.destination.name": m.topic,
        "messaging.destination.partition.id": str(m.partition),
        "messaging.kafka.offset": m.offset,
        "messaging.consumer.group.name": group,
    }
    event_id = m.header(h.EVENT_ID)
    if event_id is not None:
        attributes["messaging.message.id"] = event_id
    return spans.start_span(
        f"process {m.topic}",
        context=parent_from(m.header(h.TRACEPARENT)),
        kind=SpanKind.CONSUMER,
        attributes=attributes,
    )


def end_span(span: Span, outcome: Outcome) -> None:
    span.set_attribute("outbox.outcome", outcome.value)
    if outcome is Outcome.DEAD_LETTERED:
        span.set_status(Status(StatusCode.ERROR, "dead-lettered"))
    span.end()


def recording(tracer: Tracer | None) -> Tracer | None:
    """The tracer spans should go to, or None when they would go nowhere: no tracer was given
    and no global provider is set (the clean-batch path then skips building them)."""
    if tracer is not None:
        return tracer
    if isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        return None
    return trace.get_tracer("consumers")


def traced(tracer: Tracer | None = None) -> Middleware:
    """``tracer``: the process's (``python -m consumers`` makes one); the global, a no-op
    unless set, when None."""
    spans = tracer or trace.get_tracer("consumers")

    @layer("trace")
    def middleware(step: Step) -> Step:
        def run(d: Delivery) -> Outcome:
            span = start_span(spans, d.message, d.group)
            with trace.use_span(span, end_on_exit=False, record_exception=True):
                try:
                    outcome = step(d)
                except BaseException:
                    span.end()
                    raise
            end_span(span, outcome)
            return outcome

        return run

    return middleware
