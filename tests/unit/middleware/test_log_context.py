"""``log_context``: every log line written while a message runs names its group, position,
event id and trace, and none after it."""

from __future__ import annotations

import json
import logging

from consumer_runtime import HandlerContext, Message, handler
from consumer_runtime.logs import JsonFormatter
from consumers.events import OrderPlaced
from tests import factories
from tests.consumer_fakes import chain_for, deliver

log = logging.getLogger("tests.handler")
lines: list[str] = []


class Keep(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        lines.append(JsonFormatter().format(record))


@handler("g")
def says(event: OrderPlaced, ctx: HandlerContext) -> None:
    log.warning("handling")


def test_log_lines_inside_carry_the_message_and_none_outside() -> None:
    keep = Keep()
    log.addHandler(keep)
    try:
        m = factories.kafka_message(factories.placed_record(), partition=2, offset=8)
        trace = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        message = Message(
            m.topic, 2, 8, m.key, m.value, (*m.headers, ("traceparent", trace.encode()))
        )
        deliver(chain_for(says), message)
        log.warning("after")
    finally:
        log.removeHandler(keep)
    inside, after = (json.loads(line) for line in lines[-2:])
    assert (inside["group"], inside["where"]) == ("g", "t[2]@8")
    assert inside["event_id"] == m.header("id")
    assert inside["traceparent"] == trace
    assert "group" not in after
