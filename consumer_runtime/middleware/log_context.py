"""``log_context``: every log line written while a message runs names its group, position,
event id and trace (``consumer_runtime.logs``)."""

from __future__ import annotations

from consumer_runtime.delivery import Delivery, Step
from consumer_runtime.logs import bind
from consumer_runtime.message import Outcome
from contract import headers as h


def log_context(step: Step) -> Step:
    def run(d: Delivery) -> Outcome:
        m = d.message
        with bind(
            group=d.group,
            where=m.where,
            event_id=m.header(h.EVENT_ID),
            traceparent=m.header(h.TRACEPARENT),
        ):
            return step(d)

    return run
