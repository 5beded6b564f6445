"""``decode``: bytes -> the reader's event; anything that cannot become one is poison,
dead-lettered at once, never retried; a type the handler does not take is ignored."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from consumer_runtime import HandlerContext, Message, Outcome, handler
from consumers.events import OrderCancelled, OrderPlaced
from contract import AvroCodec, SchemaRepository
from tests import factories
from tests.consumer_fakes import RecordingSink, chain_for, deliver

seen: list[Any] = []


@handler("g")
def record(event: OrderPlaced | OrderCancelled, ctx: HandlerContext) -> None:
    seen.append(event)


@handler("g")
def placed_only(event: OrderPlaced, ctx: HandlerContext) -> None:
    seen.append(event)


@pytest.fixture(autouse=True)
def _forget() -> None:
    seen.clear()


def test_dispatch_decodes_to_the_readers_event_and_handles_once() -> None:
    event_record = factories.placed_record()
    outcome = deliver(chain_for(record), factories.kafka_message(event_record))
    assert outcome is Outcome.HANDLED
    [event] = seen
    assert isinstance(event, OrderPlaced)
    assert event.event_id == event_record["event_id"]
    assert event.lines[0].sku == "SKU-0001"


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b"not avro at all", "not Avro single-object encoding"),
        (b"\xc3\x01" + b"\x01" * 8 + b"\x00", "no schema with fingerprint"),
        (None, "no value"),
    ],
)
def test_undecodable_input_is_dead_lettered_at_once(value: bytes | None, reason: str) -> None:
    sink = RecordingSink()
    chain = chain_for(record, sink)
    message = Message("t", 0, 7, b"k", value, (("id", b"x"),))
    assert deliver(chain, message) is Outcome.DEAD_LETTERED
    assert seen == []
    [(sent, why)] = sink.sent
    assert sent is message
    assert reason in why


def test_an_event_type_the_consumer_does_not_know_is_dead_lettered(tmp_path: Path) -> None:
    repo = SchemaRepository.load()
    for v in repo:
        (tmp_path / f"{v.event_type}.v{v.version}.avsc").write_text(json.dumps(v.raw))
    shipped = {
        "type": "record",
        "name": "OrderShipped",
        "namespace": "shop.orders.events",
        "fields": [{"name": "event_id", "type": "string"}],
    }
    (tmp_path / "OrderShipped.v1.avsc").write_text(json.dumps(shipped))
    wide = AvroCodec(SchemaRepository.load(tmp_path))
    value = wide.encode({"event_id": "e1"}, wide.repository.get("OrderShipped"))
    sink = RecordingSink()
    chain = chain_for(placed_only, sink, codec=wide)
    assert deliver(chain, Message("t", 0, 0, b"k", value, ())) is Outcome.DEAD_LETTERED
    assert "unknown event type 'OrderShipped'" in sink.sent[0][1]


def test_a_known_type_the_handler_does_not_subscribe_to_is_ignored() -> None:
    message = factories.kafka_message(factories.cancelled_record(uuid.uuid4()), "OrderCancelled")
    assert deliver(chain_for(placed_only, attempts=1), message) is Outcome.IGNORED
    assert seen == []


def test_header_and_payload_event_ids_must_agree() -> None:
    sink = RecordingSink()
    good = factories.kafka_message(factories.placed_record())
    forged = Message(good.topic, 0, 0, good.key, good.value, (("id", b"other"),))
    assert deliver(chain_for(record, sink), forged) is Outcome.DEAD_LETTERED
    assert "header id other" in sink.sent[0][1]
