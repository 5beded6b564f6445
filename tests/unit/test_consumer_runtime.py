"""The consumer runtime with fakes: middleware order, dispatch, retries, dead letters,
the duplicator, outages, and commits only after the database."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from kafka.structs import TopicPartition

from consumers.events import OrderCancelled, OrderPlaced
from consumers.runtime import middleware as mw
from consumers.runtime.bound import bound
from consumers.runtime.chain import build_chain
from consumers.runtime.errors import HandlerTimeout, Outage
from consumers.runtime.message import Delivery, Message, Outcome
from consumers.runtime.processor import EventProcessor
from consumers.runtime.registry import Registration
from contract import AvroCodec, SchemaRepository
from tests import factories
from tests.consumer_fakes import FakeConsumer, FakeDatabase, FakeTransaction, RecordingSink

CODEC = AvroCodec(SchemaRepository.load())


def chain_for(
    handle: Callable[[Any, Any], None],
    sink: RecordingSink,
    *,
    duplicate: bool = False,
    attempts: int = 3,
    timeout_s: float = 5.0,
    sleeps: list[float] | None = None,
) -> mw.Step:
    registration = Registration.of("g", handle, OrderPlaced, OrderCancelled)
    return build_chain(
        registration,
        CODEC,
        sink,
        attempts=attempts,
        base=0.1,
        cap=1.0,
        timeout_s=timeout_s,
        duplicate=duplicate,
        sleep=(sleeps.append if sleeps is not None else lambda s: None),
    )


def deliver(chain: mw.Step, message: Message, tx: FakeTransaction | None = None) -> Outcome:
    return chain(Delivery(message, "g", tx or FakeTransaction(FakeDatabase())))


def test_dispatch_decodes_to_the_readers_event_and_handles_once() -> None:
    seen: list[Any] = []
    record = factories.placed_record()
    outcome = deliver(
        chain_for(lambda e, ctx: seen.append(e), RecordingSink()), factories.kafka_message(record)
    )
    assert outcome is Outcome.HANDLED
    [event] = seen
    assert isinstance(event, OrderPlaced)
    assert event.event_id == record["event_id"]
    assert event.lines[0].sku == "SKU-0001"


def _effect(event: Any, ctx: Any) -> None:
    ctx.connection.effects.append(1)  # the fake transaction is its own connection


def _effect_id(event: Any, ctx: Any) -> None:
    ctx.connection.effects.append(event.event_id)


def _user(name: str, seen: list[tuple[str, int, str | None]]) -> mw.Middleware:
    """A user middleware that notes its name, the savepoint depth and the event type."""

    def middleware(step: mw.Step) -> mw.Step:
        def run(d: Delivery) -> Outcome:
            depth = getattr(d.tx, "depth", 0)
            seen.append((name, depth, type(d.event).__name__ if d.event else None))
            return step(d)

        return run

    middleware.__name__ = name
    return middleware


def _real_chain(seen: list[tuple[str, int, str | None]], **kwargs: Any) -> mw.Chain:
    registration = Registration.of(
        "g",
        _effect,
        OrderPlaced,
        middleware=(_user("per_handler", seen),),
    )
    return build_chain(
        registration,
        CODEC,
        kwargs.pop("sink", RecordingSink()),
        attempts=3,
        base=0,
        cap=0,
        timeout_s=5,
        sleep=lambda s: None,
        middleware=[_user("processor_wide", seen)],
        **kwargs,
    )


def test_the_real_chain_keeps_the_guarantees_in_their_places() -> None:
    """Read off the chain ``build_chain`` makes, not a copy of it: swapping ``idempotent``
    and ``bound``, moving ``dead_letter`` inside ``retry`` or a user middleware inside the
    savepoint changes these layers and fails here."""
    layers = _real_chain([], duplicate=True).layers
    assert layers == (
        "log_context",
        "trace",
        "dead_letter",
        "decode",
        "retry",
        "processor_wide",
        "per_handler",
        "duplicator",
        "idempotent",
        "bound",
        "handler",
    )
    at = layers.index
    assert at("trace") < at("dead_letter")  # the span ends with the outcome, dead letters too
    assert at("dead_letter") < at("decode") < at("retry")  # bad bytes: dead-lettered at once
    assert at("retry") < at("idempotent") < at("bound") < at("handler")
    assert max(at("processor_wide"), at("per_handler")) < at("duplicator") < at("idempotent")


def test_user_middleware_runs_per_attempt_on_the_decoded_event_outside_the_savepoint() -> None:
    seen: list[tuple[str, int, str | None]] = []
    chain = _real_chain(seen)
    tx = FakeTransaction(FakeDatabase())
    assert deliver(chain, factories.kafka_message(factories.placed_record()), tx) is Outcome.HANDLED
    assert seen == [("processor_wide", 0, "OrderPlaced"), ("per_handler", 0, "OrderPlaced")]


def test_a_failure_raised_by_user_middleware_is_retried_then_dead_lettered_once() -> None:
    sink, calls = RecordingSink(), []

    def flaky(step: mw.Step) -> mw.Step:
        def run(d: Delivery) -> Outcome:
            calls.append(1)
            raise RuntimeError("rate limiter down")

        return run

    registration = Registration.of("g", lambda e, c: None, OrderPlaced, middleware=(flaky,))
    chain = build_chain(
        registration, CODEC, sink, attempts=3, base=0, cap=0, timeout_s=5, sleep=lambda s: None
    )
    outcome = deliver(chain, factories.kafka_message(factories.placed_record()))
    assert outcome is Outcome.DEAD_LETTERED
    assert len(calls) == 3  # dead_letter outside retry: one letter after every attempt
    assert len(sink.sent) == 1


def test_a_failure_is_retried_with_backoff_then_dead_lettered() -> None:
    sink, attempts = RecordingSink(), []
    sleeps: list[float] = []

    def always_fails(event: Any, ctx: Any) -> None:
        attempts.append(1)
        raise ValueError("downstream says no")

    message = factories.kafka_message(factories.placed_record())
    outcome = deliver(chain_for(always_fails, sink, sleeps=sleeps), message)
    assert outcome is Outcome.DEAD_LETTERED
    assert len(attempts) == 3
    assert len(sleeps) == 2
    assert all(0 <= s <= 0.1 * 2**i for i, s in enumerate(sleeps))  # full jitter
    [(delivery, reason)] = sink.sent
    assert delivery.message is message
    assert reason.startswith("failed after 3 attempts: ValueError('downstream says no')")


def test_a_failure_that_heals_is_handled_without_dead_letter() -> None:
    sink, tries = RecordingSink(), []

    def flaky(event: Any, ctx: Any) -> None:
        tries.append(1)
        if len(tries) < 2:
            raise ConnectionResetError("blip")

    assert (
        deliver(chain_for(flaky, sink), factories.kafka_message(factories.placed_record()))
        is Outcome.HANDLED
    )
    assert sink.sent == []


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b"not avro at all", "not Avro single-object encoding"),
        (b"\xc3\x01" + b"\x01" * 8 + b"\x00", "no schema with fingerprint"),
        (None, "no value"),
    ],
)
def test_undecodable_input_is_dead_lettered_at_once(value: bytes | None, reason: str) -> None:
    sink, called = RecordingSink(), []
    message = Message("t", 0, 7, b"k", value, (("id", b"x"),))
    outcome = deliver(chain_for(lambda e, c: called.append(e), sink), message)
    assert outcome is Outcome.DEAD_LETTERED
    assert called == []
    [(delivery, why)] = sink.sent
    assert delivery.attempts == 0  # never retried
    assert reason in why


def test_an_event_type_the_consumer_does_not_know_is_dead_lettered(tmp_path: Any) -> None:
    import json

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
    registration = Registration.of("g", lambda e, c: None, OrderPlaced)
    chain = build_chain(registration, wide, sink, attempts=3, base=0, cap=0, timeout_s=5)
    outcome = chain(
        Delivery(Message("t", 0, 0, b"k", value, ()), "g", FakeTransaction(FakeDatabase()))
    )
    assert outcome is Outcome.DEAD_LETTERED
    assert "unknown event type 'OrderShipped'" in sink.sent[0][1]


def test_a_known_type_the_handler_does_not_subscribe_to_is_ignored() -> None:
    registration = Registration.of("g", lambda e, c: None, OrderPlaced)
    chain = build_chain(
        registration, CODEC, RecordingSink(), attempts=1, base=0, cap=0, timeout_s=5
    )
    record = factories.cancelled_record(uuid.uuid4())
    message = factories.kafka_message(record, "OrderCancelled")
    assert chain(Delivery(message, "g", FakeTransaction(FakeDatabase()))) is Outcome.IGNORED


def test_header_and_payload_event_ids_must_agree() -> None:
    sink = RecordingSink()
    good = factories.kafka_message(factories.placed_record())
    forged = Message(good.topic, 0, 0, good.key, good.value, (("id", b"other"),))
    assert deliver(chain_for(lambda e, c: None, sink), forged) is Outcome.DEAD_LETTERED
    assert "header id other" in sink.sent[0][1]


def test_duplicator_runs_twice_and_idempotency_absorbs_the_second() -> None:
    effects: list[Any] = []
    tx = FakeTransaction(FakeDatabase())
    chain = chain_for(lambda e, ctx: effects.append(e.event_id), RecordingSink(), duplicate=True)
    delivery = Delivery(factories.kafka_message(factories.placed_record()), "g", tx)
    assert chain(delivery) is Outcome.HANDLED
    assert delivery.notes["duplicate_outcome"] is Outcome.DUPLICATE
    assert len(effects) == 1


def test_without_idempotency_the_duplicator_would_show_a_double_effect() -> None:
    # The duplicator is only proof if it can catch a handler that is not idempotent.
    effects: list[Any] = []
    registration = Registration.of("g", lambda e, c: effects.append(1), OrderPlaced)
    step = mw.compose(
        mw.call_handler(registration), [mw.decode(CODEC, registration), mw.duplicator]
    )
    step(
        Delivery(
            factories.kafka_message(factories.placed_record()), "g", FakeTransaction(FakeDatabase())
        )
    )
    assert len(effects) == 2


def test_an_outage_is_never_dead_lettered() -> None:
    sink = RecordingSink()

    def db_gone(event: Any, ctx: Any) -> None:
        raise Outage("postgres: connection refused")

    with pytest.raises(Outage):
        deliver(chain_for(db_gone, sink), factories.kafka_message(factories.placed_record()))
    assert sink.sent == []


def _fresh() -> Delivery:
    """A delivery of a new OrderPlaced in a transaction of its own."""
    return Delivery(
        factories.kafka_message(factories.placed_record()), "g", FakeTransaction(FakeDatabase())
    )


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _bounded(handle: Callable[[Any, Any], None], clock: _Clock, attempts: int = 3) -> mw.Step:
    registration = Registration.of("g", handle, OrderPlaced)
    return mw.compose(
        mw.call_handler(registration),
        [
            mw.decode(CODEC, registration),
            mw.retry(attempts, 0, 0, sleep=lambda s: None),
            mw.idempotent,
            bound(5.0, attempts, clock=clock),
        ],
    )


def test_a_slow_handler_that_returns_keeps_its_effect() -> None:
    clock = _Clock()

    def slow(event: Any, ctx: Any) -> None:
        ctx.connection.effects.append(1)
        clock.now += 30  # far past the bound, but every statement and gap within it

    tx = FakeTransaction(FakeDatabase())
    outcome = _bounded(slow, clock)(
        Delivery(factories.kafka_message(factories.placed_record()), "g", tx)
    )
    assert outcome is Outcome.HANDLED
    assert tx.effects == [1]


def test_the_databases_bound_is_an_overrun_its_effect_undone_and_retried() -> None:
    from psycopg import errors

    clock, calls = _Clock(), []

    def blocked_once(event: Any, ctx: Any) -> None:
        calls.append(1)
        ctx.connection.effects.append(len(calls))
        if len(calls) == 1:
            raise errors.QueryCanceled("canceling statement due to statement timeout")

    clock.now = 0.0
    tx = FakeTransaction(FakeDatabase())
    outcome = _bounded(blocked_once, clock)(
        Delivery(factories.kafka_message(factories.placed_record()), "g", tx)
    )
    assert outcome is Outcome.HANDLED
    assert tx.effects == [2]  # the overrun attempt's effect was rolled back


def test_any_failure_after_the_bound_is_an_overrun() -> None:
    clock = _Clock()

    def dies_late(d: Delivery) -> Outcome:
        clock.now += 6
        raise RuntimeError("connection dropped after a long wait")

    with pytest.raises(HandlerTimeout):
        bound(5.0, 3, clock=clock)(dies_late)(_fresh())


def test_overruns_are_counted_across_redeliveries_then_the_message_is_poison() -> None:
    """An overrun that ended the session is redelivered as an outage, so the retry middleware
    never sees a third attempt: the bound itself remembers the message's overruns."""
    from consumers.runtime.errors import PoisonMessage

    clock = _Clock()

    def always_blocks(d: Delivery) -> Outcome:
        clock.now += 10
        raise RuntimeError("server closed the connection")

    step = bound(5.0, 2, clock=clock)(always_blocks)
    message = factories.kafka_message(factories.placed_record(), offset=7)
    other = factories.kafka_message(factories.placed_record(), offset=8)
    for _ in range(2):
        with pytest.raises(HandlerTimeout):
            step(Delivery(message, "g", FakeTransaction(FakeDatabase())))
    with pytest.raises(PoisonMessage, match="overran its 5s bound 2 times"):
        step(Delivery(message, "g", FakeTransaction(FakeDatabase())))
    with pytest.raises(HandlerTimeout):  # another message starts from zero
        step(Delivery(other, "g", FakeTransaction(FakeDatabase())))


def test_an_outage_inside_the_bound_passes_through_untouched() -> None:
    clock = _Clock()

    def outage(d: Delivery) -> Outcome:
        clock.now += 60
        raise Outage("postgres: gone")

    with pytest.raises(Outage):
        bound(5.0, 3, clock=clock)(outage)(_fresh())


def _processor(
    consumer: FakeConsumer,
    db: FakeDatabase,
    on_db_committed: Callable[[], None] | None = None,
) -> EventProcessor:
    registration = Registration.of("g", _effect_id, OrderPlaced, OrderCancelled)
    chain = build_chain(
        registration, CODEC, RecordingSink(), attempts=1, base=0, cap=0, timeout_s=5
    )
    return EventProcessor(
        registration,
        consumer=consumer,
        topic="t",
        transactions=db,
        chain=chain,
        sleep=lambda s: None,
        on_db_committed=on_db_committed,
    )


def test_offsets_are_committed_after_the_database_commit() -> None:
    batch = [
        factories.kafka_message(factories.placed_record(), partition=p, offset=o)
        for p, o in ((0, 10), (0, 11), (3, 5))
    ]
    db, order = FakeDatabase(), []
    consumer = FakeConsumer([batch])
    processor = _processor(consumer, db, on_db_committed=lambda: order.append(db.commits))
    processor.poll_once()
    assert order == [1]  # the hook saw the database commit done ...
    assert consumer.commits == [{TopicPartition("t", 0): 12, TopicPartition("t", 3): 6}]
    assert len(db.effects) == 3
    assert processor.stats["handled"] == 3


def test_an_outage_rolls_back_rewinds_and_retries_the_whole_batch() -> None:
    batch = [
        factories.kafka_message(factories.placed_record(), partition=1, offset=o) for o in (40, 41)
    ]
    db = FakeDatabase()
    db.fail_next.append(Outage("postgres: server closed the connection"))
    consumer = FakeConsumer([batch])
    processor = _processor(consumer, db)
    processor.poll_once()
    assert consumer.commits == []
    assert consumer.seeks == [(TopicPartition("t", 1), 40)]
    assert db.effects == []
    assert processor.stats["outages"] == 1
    processor.poll_once()  # the same batch again, database back
    assert consumer.commits == [{TopicPartition("t", 1): 42}]
    assert len(db.effects) == 2


def test_a_redelivered_batch_is_absorbed_as_duplicates() -> None:
    batch = [factories.kafka_message(factories.placed_record(), offset=o) for o in (1, 2)]
    db = FakeDatabase()
    processor = _processor(FakeConsumer([batch, batch]), db)
    processor.poll_once()
    processor.poll_once()
    assert processor.stats["handled"] == 2
    assert processor.stats["duplicate"] == 2
    assert len(db.effects) == 2


def test_dead_letter_headers_keep_the_original_and_add_where_and_why() -> None:
    from datetime import UTC, datetime

    from consumers.runtime.dead_letters import dead_letter_headers

    message = Message(
        "outbox.event.order",
        4,
        99,
        b"k",
        b"v",
        (("id", b"e1"), ("idempotency_key", None), ("dlq.reason", b"old")),
    )
    headers = dead_letter_headers(
        Delivery(message, "inventory", FakeTransaction(FakeDatabase())),
        "poison: x",
        datetime(2026, 1, 1, tzinfo=UTC),
    )
    as_dict = dict(headers)
    assert as_dict["id"] == b"e1"
    assert "idempotency_key" not in as_dict  # null: left out, reads the same
    assert as_dict["dlq.reason"] == b"poison: x"  # an earlier dead-lettering's is replaced
    assert [k for k, _ in headers].count("dlq.reason") == 1
    assert (
        as_dict["dlq.handler"],
        as_dict["dlq.topic"],
        as_dict["dlq.partition"],
        as_dict["dlq.offset"],
    ) == (b"inventory", b"outbox.event.order", b"4", b"99")


def _watched(members: list[str]) -> tuple[EventProcessor, list[FakeConsumer], list[float]]:
    from consumers.runtime.membership import Rejoin

    now = [0.0]
    fresh: list[FakeConsumer] = []

    def new_consumer() -> FakeConsumer:
        fresh.append(FakeConsumer([]))
        return fresh[-1]

    registration = Registration.of("g", lambda e, c: None, OrderPlaced)
    chain = build_chain(
        registration, CODEC, RecordingSink(), attempts=1, base=0, cap=0, timeout_s=5
    )
    processor = EventProcessor(
        registration,
        consumer=FakeConsumer([]),
        topic="t",
        transactions=FakeDatabase(),
        chain=chain,
        sleep=lambda s: None,
        clock=lambda: now[0],
        rejoin=Rejoin(
            client_id="g-42", members=lambda: members, new_consumer=new_consumer, after=30
        ),
    )
    return processor, fresh, now


def test_an_instance_missing_from_its_group_twice_rejoins_with_a_new_client() -> None:
    # It still reports its old assignment (FakeConsumer does): only the broker knows better.
    processor, fresh, now = _watched(members=["g-7"])
    for t in (0.0, 10.0, 29.0):  # first check at 0: missing once; too early to look again
        now[0] = t
        processor._watch_assignment()
    assert fresh == []
    now[0] = 31.0  # second check: missing twice in a row
    processor._watch_assignment()
    assert len(fresh) == 1
    assert processor.stats["rejoins"] == 1
    assert processor._consumer is fresh[0]
    assert fresh[0].subscribed == ["t"]


def test_a_member_of_its_group_is_left_alone() -> None:
    processor, fresh, now = _watched(members=["g-7", "g-42"])
    for t in (0.0, 31.0, 62.0, 93.0):
        now[0] = t
        processor._watch_assignment()
    assert fresh == []
    assert processor.stats["rejoins"] == 0


def test_a_broken_connection_is_an_outage() -> None:
    import psycopg

    from consumers.runtime.postgres import translate_errors

    class Broken:
        broken, closed = True, False

    with pytest.raises(Outage), translate_errors(Broken()):  # type: ignore[arg-type]
        raise psycopg.OperationalError("server closed the connection unexpectedly")


def test_a_call_that_returns_clears_its_messages_overruns() -> None:
    """In an optimistic batch a pipelined timeout can surface in another message's call; that
    message's isolated rerun returns, and the wrongly counted overrun is forgotten."""
    clock, fail = _Clock(), [True]

    def sometimes(d: Delivery) -> Outcome:
        if fail[0]:
            clock.now += 10
            raise RuntimeError("canceling statement due to statement timeout")
        clock.now += 1  # within the bound: only such a return clears the count
        return Outcome.HANDLED

    step = bound(5.0, 2, clock=clock)(sometimes)
    message = factories.kafka_message(factories.placed_record(), offset=3)
    with pytest.raises(HandlerTimeout):
        step(Delivery(message, "g", FakeTransaction(FakeDatabase())))
    fail[0] = False
    assert step(Delivery(message, "g", FakeTransaction(FakeDatabase()))) is Outcome.HANDLED
    fail[0] = True
    for _ in range(2):  # counted from zero again: two more overruns before it is poison
        with pytest.raises(HandlerTimeout):
            step(Delivery(message, "g", FakeTransaction(FakeDatabase())))


def test_a_slow_return_does_not_clear_the_overruns() -> None:
    """Pipelined, a blocked handler may return late instead of being cut off: that is no
    proof it is fine, so its overruns stand and it is still dead-lettered in the end."""
    from consumers.runtime.errors import PoisonMessage

    clock, cut_off = _Clock(), [True]

    def blocked(d: Delivery) -> Outcome:
        clock.now += 10
        if cut_off[0]:
            raise RuntimeError("terminating connection due to idle-in-transaction timeout")
        return Outcome.HANDLED

    step = bound(5.0, 2, clock=clock)(blocked)
    message = factories.kafka_message(factories.placed_record(), offset=5)
    with pytest.raises(HandlerTimeout):
        step(Delivery(message, "g", FakeTransaction(FakeDatabase())))
    cut_off[0] = False
    step(Delivery(message, "g", FakeTransaction(FakeDatabase())))  # slow, returned
    cut_off[0] = True
    with pytest.raises(HandlerTimeout):
        step(Delivery(message, "g", FakeTransaction(FakeDatabase())))
    with pytest.raises(PoisonMessage):
        step(Delivery(message, "g", FakeTransaction(FakeDatabase())))
