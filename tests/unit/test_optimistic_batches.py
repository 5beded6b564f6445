"""The optimistic batch (consumer_runtime.optimistic) with fakes: a clean batch commits once
with its marks claimed up front; any failure reruns the batch with a savepoint per message, so
the failing message alone is retried and dead-lettered, once."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from kafka.structs import TopicPartition

from consumer_runtime import HandlerContext, handler
from consumer_runtime.errors import Isolate
from consumer_runtime.message import Message
from consumer_runtime.middleware.dead_letter import position_id
from consumer_runtime.optimistic import Claims, OptimisticTransaction, claimable
from consumers.events import OrderCancelled, OrderPlaced
from contract import AvroCodec, SchemaRepository
from tests import factories
from tests.consumer_fakes import (
    FakeConsumer,
    FakeDatabase,
    FakeProcessedEvents,
    FakeTransaction,
    RecordingSink,
    processor_for,
)

CODEC = AvroCodec(SchemaRepository.load())


@handler("g")
def record_effect(event: OrderPlaced | OrderCancelled, ctx: Any) -> None:
    ctx.connection.effects.append(event.event_id)


def batch(n: int) -> list[Message]:
    return [factories.kafka_message(factories.placed_record(), offset=o) for o in range(n)]


def test_a_clean_batch_commits_once_without_a_rerun() -> None:
    db = FakeDatabase()
    messages = batch(5)
    processor = processor_for([messages], db, record_effect, RecordingSink())
    processor.poll_once()
    assert db.commits == 1
    assert processor.stats["handled"] == 5
    assert processor.stats["isolations"] == 0
    assert len(db.processed) == 5
    assert len(db.effects) == 5


def test_a_poison_message_reruns_the_batch_and_is_dead_lettered_once() -> None:
    db, sink = FakeDatabase(), RecordingSink()
    messages = batch(4)
    poison = Message("t", 0, 2, b"k", b"\xc3\x01garbage", messages[2].headers)
    messages[2] = poison
    processor = processor_for([messages], db, record_effect, sink)
    processor.poll_once()
    assert processor.stats["isolations"] == 1
    assert [m.offset for m, _ in sink.sent] == [2]
    assert processor.stats["handled"] == 3
    assert processor.stats["dead_lettered"] == 1
    # The failed attempt committed nothing; then 0-1 optimistic, 2 isolated, 3 optimistic.
    assert db.commits == 3
    # The dead letter is marked under its position (its bytes carry no id to trust) ...
    assert db.dead_lettered == {("g", position_id(poison))}
    assert len(db.processed) == 4
    # ... so a redelivery of the whole batch is four duplicates and no second dead letter.
    again = processor_for([messages], db, record_effect, sink)
    again.poll_once()
    assert again.stats["duplicate"] == 4
    assert len(sink.sent) == 1


def test_a_failing_handler_is_retried_only_on_the_isolated_rerun() -> None:
    db, sink = FakeDatabase(), RecordingSink()
    messages = batch(3)
    bad = uuid.UUID(messages[1].header("id") or "")
    calls: list[uuid.UUID] = []

    @handler("g")
    def handle(event: OrderPlaced, ctx: HandlerContext) -> None:
        calls.append(event.event_id)
        if event.event_id == bad:
            raise RuntimeError("downstream refused")
        record_effect(event, ctx)

    processor = processor_for([messages], db, handle, sink, attempts=2)
    processor.poll_once()
    assert calls.count(bad) == 1 + 2  # once optimistically, then both isolated attempts
    assert len(sink.sent) == 1
    assert "downstream refused" in sink.sent[0][1]
    assert len(db.effects) == 2
    assert len(db.processed) == 3
    assert db.dead_lettered == {("g", bad)}  # a valid event is marked under its own id


def test_events_processed_before_are_duplicates_without_a_rerun() -> None:
    db = FakeDatabase()
    messages = batch(3)
    processor = processor_for([messages, messages], db, record_effect, RecordingSink())
    processor.poll_once()
    processor.poll_once()
    assert processor.stats["duplicate"] == 3
    assert processor.stats["isolations"] == 0
    assert len(db.effects) == 3


def test_the_same_event_twice_in_one_batch_is_handled_once() -> None:
    db = FakeDatabase()
    [first] = batch(1)
    again = Message(first.topic, first.partition, 1, first.key, first.value, first.headers)
    processor = processor_for([[first, again]], db, record_effect, RecordingSink())
    processor.poll_once()
    assert (processor.stats["handled"], processor.stats["duplicate"]) == (1, 1)
    assert processor.stats["isolations"] == 0


def test_the_duplicator_is_absorbed_by_claimed_marks() -> None:
    db = FakeDatabase()
    processor = processor_for([batch(4)], db, record_effect, RecordingSink(), duplicate=True)
    processor.poll_once()
    assert processor.stats["handled"] == 4
    assert len(db.effects) == 4
    assert processor.stats["isolations"] == 0


def test_a_message_without_headers_is_marked_on_its_own() -> None:
    db = FakeDatabase()
    [m] = batch(1)
    bare = Message(m.topic, m.partition, m.offset, m.key, m.value, ())
    processor = processor_for([[bare, bare]], db, record_effect, RecordingSink())
    processor.poll_once()
    assert (processor.stats["handled"], processor.stats["duplicate"]) == (1, 1)
    assert processor.stats["isolations"] == 0


def test_a_claim_left_unused_reruns_the_batch_and_records_nothing_for_it() -> None:
    """A message claimed by its headers but then filtered out must not stay marked as
    processed: its handler never ran."""
    db = FakeDatabase()
    messages = batch(3)
    skipped = messages[0]
    processor = processor_for(
        [messages], db, record_effect, RecordingSink(), select=lambda m: m.offset != skipped.offset
    )
    processor.poll_once()
    assert processor.stats["isolations"] == 1
    assert (processor.stats["handled"], processor.stats["ignored"]) == (2, 1)
    assert ("g", uuid.UUID(skipped.header("id") or "")) not in db.processed


def test_claims_answer_true_once_per_fresh_id_and_defer_unknown_ids() -> None:
    store = FakeProcessedEvents(committed={("g", old := uuid.uuid4())})
    new, unclaimed = uuid.uuid4(), uuid.uuid4()
    claims = Claims.prefetch(store, "g", [(new, "a"), (old, "b")])
    assert claims.mark("g", new, "a") is True
    assert claims.mark("g", new, "a") is False
    assert claims.mark("g", old, "b") is False
    assert claims.mark("g", unclaimed, "c") is True  # went to the store
    assert claims.mark("g", unclaimed, "c") is False
    assert not claims.unused


def test_only_messages_with_a_usable_id_and_a_subscribed_type_are_claimed() -> None:
    [m] = batch(1)
    good = uuid.UUID(m.header("id") or "")
    other_type = Message("t", 0, 1, None, m.value, (("id", b"x"), ("event_type", b"Refunded")))
    bad_id = Message("t", 0, 2, None, m.value, (("id", b"nope"), ("event_type", b"OrderPlaced")))
    assert claimable([m, other_type, bad_id], frozenset({"OrderPlaced"})) == [(good, m.where)]


def test_a_batch_form_is_called_once_with_the_new_events_in_order() -> None:
    db = FakeDatabase()
    messages = batch(4)
    calls: list[list[Any]] = []

    def handle_batch(items: Any) -> None:
        calls.append([event.event_id for event, _ in items])
        for event, ctx in items:
            ctx.connection.effects.append(event.event_id)

    @handler("g", batch=handle_batch)
    def per_event(event: OrderPlaced, ctx: HandlerContext) -> None:
        raise AssertionError("a clean batch must not call the per-event form")

    processor = processor_for([messages + messages[:1]], db, per_event, RecordingSink())
    processor.poll_once()
    assert calls == [[uuid.UUID(m.header("id") or "") for m in messages]]
    assert (processor.stats["handled"], processor.stats["duplicate"]) == (4, 1)
    assert db.effects == calls[0]


def test_a_failing_batch_form_falls_back_to_the_per_event_form() -> None:
    db, sink = FakeDatabase(), RecordingSink()
    messages = batch(3)
    bad = uuid.UUID(messages[1].header("id") or "")

    def handle_batch(items: Any) -> None:
        raise RuntimeError("one of them is bad")

    @handler("g", batch=handle_batch)
    def per_event(event: OrderPlaced, ctx: HandlerContext) -> None:
        if event.event_id == bad:
            raise RuntimeError("bad one")
        record_effect(event, ctx)

    processor = processor_for([messages], db, per_event, sink)
    processor.poll_once()
    assert processor.stats["isolations"] == 1
    assert len(db.effects) == 2
    assert [m.offset for m, _ in sink.sent] == [1]


def test_each_poison_message_is_isolated_alone_and_the_rest_stays_optimistic() -> None:
    db, sink = FakeDatabase(), RecordingSink()
    messages = batch(6)
    for i in (1, 4):
        messages[i] = Message("t", 0, i, b"k", b"\xc3\x01garbage", messages[i].headers)
    processor = processor_for([messages], db, record_effect, sink)
    processor.poll_once()
    assert [m.offset for m, _ in sink.sent] == [1, 4]
    assert (processor.stats["handled"], processor.stats["dead_lettered"]) == (4, 2)
    assert processor.stats["isolations"] == 2
    # [0] optimistic, [1] isolated, [2, 3] optimistic, [4] isolated, [5] optimistic
    assert db.commits == 5


def test_a_spent_budget_commits_a_prefix_and_fetches_the_rest_again() -> None:
    """Slow messages must not keep one poll turn past max_poll_interval_ms: once the batch's
    budget is spent no new message starts, the done prefix is committed, the rest rewound."""
    db, sink = FakeDatabase(), RecordingSink()
    messages = batch(4)
    now = [0.0]
    poison = Message("t", 0, 1, b"k", b"\xc3\x01garbage", messages[1].headers)
    messages[1] = poison  # forces the isolated path, where the budget is checked per message

    @handler("g")
    def slow(event: OrderPlaced, ctx: HandlerContext) -> None:
        now[0] += 20
        record_effect(event, ctx)

    consumer = FakeConsumer([messages])
    processor = processor_for([], db, slow, sink, clock=lambda: now[0], consumer=consumer)
    processor.poll_once()  # 0 (optimistic, twice: 40 s), then 1 alone; 2 and 3 not started
    assert processor.stats["budget_splits"] == 1
    assert consumer.commits == [{TopicPartition("t", 0): 2}]
    assert consumer.seeks == [(TopicPartition("t", 0), 2)]
    processor.poll_once()  # the whole batch again: 0 and 1 are duplicates now
    assert (processor.stats["handled"], processor.stats["dead_lettered"]) == (3, 1)
    assert processor.stats["duplicate"] == 2
    assert len(sink.sent) == 1


def test_a_handler_call_past_the_bound_in_a_batch_is_rerun_isolated() -> None:
    """Pipelined, the server cannot hold a handler to its idle bound between statements: a
    call that took past the bound ends the optimistic batch, and the isolated rerun decides."""

    def batch_tx(bound: float) -> OptimisticTransaction:
        claims = Claims(FakeProcessedEvents(set()), set(), set())
        return OptimisticTransaction(FakeTransaction(FakeDatabase()), claims, handler_bound=bound)

    with pytest.raises(Isolate, match="past its 0s bound"), batch_tx(0.0).savepoint():
        pass
    with batch_tx(60.0).savepoint():
        pass
