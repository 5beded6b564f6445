"""The poll loop with fakes: offsets are committed only after the database commit, an outage
rolls back and rewinds the whole batch, a redelivered batch is absorbed as duplicates, and
the clean-batch decision is said at start."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from kafka.structs import TopicPartition

from consumer_runtime import HandlerContext, handler
from consumer_runtime.errors import Outage
from consumers.events import OrderCancelled, OrderPlaced
from tests import factories
from tests.consumer_fakes import FakeConsumer, FakeDatabase, RecordingSink, processor_for


@handler("g")
def effect_id(event: OrderPlaced | OrderCancelled, ctx: Any) -> None:
    ctx.connection.effects.append(event.event_id)


def _placed(partition: int, offset: int) -> Any:
    return factories.kafka_message(factories.placed_record(), partition=partition, offset=offset)


def test_offsets_are_committed_after_the_database_commit() -> None:
    batch = [_placed(p, o) for p, o in ((0, 10), (0, 11), (3, 5))]
    db, order = FakeDatabase(), []
    consumer = FakeConsumer([batch])
    processor = processor_for(
        [], db, effect_id, RecordingSink(), attempts=1, consumer=consumer,
        on_db_committed=lambda: order.append(db.commits),
    )  # fmt: skip
    processor.poll_once()
    assert order == [1]  # the hook saw the database commit done ...
    assert consumer.commits == [{TopicPartition("t", 0): 12, TopicPartition("t", 3): 6}]
    assert len(db.effects) == 3
    assert processor.stats["handled"] == 3


def test_an_outage_rolls_back_rewinds_and_retries_the_whole_batch() -> None:
    batch = [_placed(1, o) for o in (40, 41)]
    db = FakeDatabase()
    db.fail_next.append(Outage("postgres: server closed the connection"))
    consumer = FakeConsumer([batch])
    processor = processor_for([], db, effect_id, RecordingSink(), attempts=1, consumer=consumer)
    processor.poll_once()
    assert consumer.commits == []
    assert consumer.seeks == [(TopicPartition("t", 1), 40)]
    assert db.effects == []
    assert processor.stats["outages"] == 1
    processor.poll_once()  # the same batch again, database back
    assert consumer.commits == [{TopicPartition("t", 1): 42}]
    assert len(db.effects) == 2


def test_a_redelivered_batch_is_absorbed_as_duplicates() -> None:
    batch = [_placed(0, o) for o in (1, 2)]
    db = FakeDatabase()
    processor = processor_for([batch, batch], db, effect_id, RecordingSink(), attempts=1)
    processor.poll_once()
    processor.poll_once()
    assert processor.stats["handled"] == 2
    assert processor.stats["duplicate"] == 2
    assert len(db.effects) == 2


@handler("g", batch=lambda items: None)
def with_batch_form(event: OrderPlaced, ctx: HandlerContext) -> None: ...


def _user_middleware(step: Any) -> Any:
    return step


@pytest.mark.parametrize(
    ("handlers", "options", "said"),
    [
        (with_batch_form, {"clean": True}, "clean batches on: a batch form"),
        (effect_id, {"clean": True}, "clean batches off: the handler has no batch form"),
        (
            with_batch_form,
            {"clean": True, "middleware": [_user_middleware]},
            "clean batches off: user middleware must see every message: _user_middleware",
        ),
        (with_batch_form, {"clean": False}, "clean batches off: turned off in the settings"),
    ],
)
def test_the_processor_says_at_start_whether_its_group_takes_the_clean_path(
    handlers: Any, options: dict[str, Any], said: str, caplog: pytest.LogCaptureFixture
) -> None:
    processor = processor_for([], FakeDatabase(), handlers, RecordingSink(), **options)
    with caplog.at_level(logging.INFO, logger="consumers.processor"):
        processor.run(until=lambda p: True)
    assert any(said in r.getMessage() for r in caplog.records), caplog.text
