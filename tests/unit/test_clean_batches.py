"""The clean-batch path (consumer_runtime.clean) against the chain it stands in for.

Each scenario runs twice over the same fakes, once through the per-message chain and once
with the clean path on, and both runs must leave the same outcomes, effects, marks and dead
letters: the path changes the cost of a batch, never what happens to a message.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from consumer_runtime import HandlerContext, handler
from consumer_runtime.message import Message
from consumer_runtime.middleware.bound import Overruns
from consumer_runtime.middleware.log_context import log_context
from consumers.events import OrderCancelled, OrderPlaced
from tests import factories
from tests.consumer_fakes import FakeDatabase, RecordingSink, processor_for

TRACEPARENT = "00-4b07490a5c71e973a2ff69cf2fc9785a-148ed94ed2d0bb5d-01"


def placed(offset: int, **headers: bytes) -> Message:
    m = factories.kafka_message(factories.placed_record(), offset=offset)
    return Message(m.topic, m.partition, offset, m.key, m.value, (*m.headers, *headers.items()))


def poison(offset: int) -> Message:
    return Message("t", 0, offset, b"k", b"\xc3\x01garbage", ())


@dataclass
class Run:
    """What one run left behind, in the terms both paths must agree on."""

    stats: dict[str, int]
    effects: list[uuid.UUID]
    processed: set[tuple[str, uuid.UUID]]
    dead_lettered: set[tuple[str, uuid.UUID]]
    sent: list[int]
    batch_calls: list[list[uuid.UUID]] = field(default_factory=list)


def run(
    clean: bool,
    batches: list[list[Message]],
    *,
    bad: frozenset[uuid.UUID] = frozenset(),
    batch_fails: bool = False,
    placed_only: bool = False,
    **options: Any,
) -> Run:
    db, sink = FakeDatabase(), RecordingSink()
    calls: list[list[uuid.UUID]] = []

    def effect(event: Any, ctx: Any) -> None:
        if event.event_id in bad:
            raise RuntimeError("refused")
        ctx.connection.effects.append(event.event_id)

    def on_any(event: OrderPlaced | OrderCancelled, ctx: HandlerContext) -> None:
        effect(event, ctx)

    def on_placed(event: OrderPlaced, ctx: HandlerContext) -> None:
        effect(event, ctx)

    def handle_batch(items: Any) -> None:
        calls.append([event.event_id for event, _ in items])
        if batch_fails or any(event.event_id in bad for event, _ in items):
            raise RuntimeError("one of them is bad")
        for event, ctx in items:
            ctx.connection.effects.append(event.event_id)

    per_event = handler("g", batch=handle_batch)(on_placed if placed_only else on_any)
    processor = processor_for(batches, db, per_event, sink, clean=clean, **options)
    for _ in batches:
        processor.poll_once()
    keys = ("handled", "duplicate", "dead_lettered", "ignored")
    return Run(
        {k: processor.stats[k] for k in keys},
        db.effects,
        db.processed,
        db.dead_lettered,
        [m.offset for m, _ in sink.sent],
        calls,
    )


def both(batches: list[list[Message]], **options: Any) -> Run:
    """The clean run, after checking it agrees with the chain's on everything but cost."""
    chain, clean = run(False, batches, **options), run(True, batches, **options)
    assert (clean.stats, clean.effects, clean.sent) == (chain.stats, chain.effects, chain.sent)
    assert (clean.processed, clean.dead_lettered) == (chain.processed, chain.dead_lettered)
    return clean


def test_a_clean_batch_calls_the_batch_form_once_in_order() -> None:
    messages = [placed(o) for o in range(5)]
    result = both([messages])
    ids = [uuid.UUID(m.header("id") or "") for m in messages]
    assert result.batch_calls == [ids]
    assert result.effects == ids
    assert result.stats["handled"] == 5


def test_duplicates_committed_before_and_within_the_batch_skip_the_handler() -> None:
    messages = [placed(o) for o in range(3)]
    again = Message("t", 0, 3, messages[0].key, messages[0].value, messages[0].headers)
    result = both([messages, [*messages, again]])
    assert (result.stats["handled"], result.stats["duplicate"]) == (3, 4)
    assert len(result.batch_calls) == 1  # the second batch had nothing new


def test_poison_is_isolated_and_dead_lettered_once_the_rest_handled() -> None:
    messages = [placed(0), placed(1), poison(2), placed(3)]
    result = both([messages])
    assert result.sent == [2]
    assert (result.stats["handled"], result.stats["dead_lettered"]) == (3, 1)


def test_a_header_that_contradicts_the_payload_is_poison_on_both_paths() -> None:
    m = placed(1)
    lying = Message("t", 0, 1, m.key, m.value, (("id", str(uuid.uuid4()).encode()),))
    result = both([[placed(0), lying, placed(2)]])
    assert result.sent == [1]


def test_a_failing_batch_form_reruns_per_event_and_dead_letters_only_the_bad_one() -> None:
    messages = [placed(o) for o in range(3)]
    bad = {uuid.UUID(messages[1].header("id") or "")}
    result = both([messages], bad=frozenset(bad))
    assert result.sent == [1]
    assert result.dead_lettered == {("g", next(iter(bad)))}
    assert len(result.effects) == 2


def test_events_of_a_type_the_handler_does_not_take_are_ignored() -> None:
    order = uuid.uuid4()
    cancel = factories.kafka_message(factories.cancelled_record(order), "OrderCancelled", offset=1)
    result = both([[placed(0), cancel, placed(2)]], placed_only=True)
    assert (result.stats["handled"], result.stats["ignored"]) == (2, 1)


def test_a_message_that_overran_its_bound_too_often_goes_the_isolated_way(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Its count lives in ``Overruns``, shared with the ``bound`` layer: the clean path must
    not hand it to the batch form again."""
    messages = [placed(o) for o in range(3)]
    monkeypatch.setattr(Overruns, "exhausted", lambda self, where: where == messages[1].where)
    result = both([messages])
    assert result.sent == [1]
    overran = uuid.UUID(messages[1].header("id") or "")
    assert result.batch_calls
    assert all(overran not in call for call in result.batch_calls)


@pytest.mark.parametrize(
    "options",
    [
        {"duplicate": True},
        {"select": lambda m: True},
        {"middleware": (log_context,)},
    ],
    ids=["duplicator", "selection", "user middleware"],
)
def test_chains_that_must_see_every_message_never_take_the_clean_path(
    options: dict[str, Any],
) -> None:
    @handler("g", batch=lambda items: None)
    def with_batch(event: OrderPlaced, ctx: HandlerContext) -> None: ...

    processor = processor_for([], FakeDatabase(), with_batch, RecordingSink(), clean=True)
    assert processor.runtime.clean_path.on  # the same handler, nothing added: it may
    for_all = processor_for([], FakeDatabase(), with_batch, RecordingSink(), clean=True, **options)
    assert not for_all.runtime.clean_path.on
    assert "must see every message" in for_all.runtime.clean_path.why


def test_each_message_gets_its_consumer_span_with_its_outcome() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    messages = [placed(0, traceparent=TRACEPARENT.encode()), placed(1)]
    again = Message("t", 0, 2, messages[0].key, messages[0].value, messages[0].headers)
    run(True, [[*messages, again]], tracer=tracer)
    spans = sorted(
        exporter.get_finished_spans(),
        key=lambda s: int(str((s.attributes or {})["messaging.kafka.offset"])),
    )
    assert [s.kind for s in spans] == [SpanKind.CONSUMER] * 3
    assert [s.attributes["outbox.outcome"] for s in spans] == [  # type: ignore[index]
        "handled",
        "handled",
        "duplicate",
    ]
    assert spans[0].parent is not None
    assert f"{spans[0].parent.trace_id:032x}" == TRACEPARENT.split("-")[1]
    assert spans[1].parent is None
