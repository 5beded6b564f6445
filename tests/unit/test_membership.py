"""The watchdog: an instance missing from its group twice in a row (the broker's word, not its
own client's) closes its client and joins with a new one; a member is left alone; a check
that fails is skipped, never raised."""

from __future__ import annotations

from kafka.errors import KafkaTimeoutError

from consumer_runtime import HandlerContext, handler
from consumer_runtime.membership import Rejoin
from consumer_runtime.processor import EventProcessor
from consumers.events import OrderPlaced
from tests.consumer_fakes import FakeConsumer, FakeDatabase, RecordingSink, processor_for


@handler("g")
def nothing(event: OrderPlaced, ctx: HandlerContext) -> None: ...


def _watched(members: list[str]) -> tuple[EventProcessor, list[FakeConsumer], list[float]]:
    now = [0.0]
    fresh: list[FakeConsumer] = []

    def new_consumer() -> FakeConsumer:
        fresh.append(FakeConsumer([]))
        return fresh[-1]

    rejoin = Rejoin(client_id="g-42", members=lambda: members, new_consumer=new_consumer, after=30)
    processor = processor_for(
        [], FakeDatabase(), nothing, RecordingSink(), clock=lambda: now[0], rejoin=rejoin
    )
    return processor, fresh, now


def test_an_instance_missing_from_its_group_twice_rejoins_with_a_new_client() -> None:
    # It still reports its old assignment (FakeConsumer does): only the broker knows better.
    processor, fresh, now = _watched(members=["g-7"])
    for t in (0.0, 10.0, 29.0):  # first check at 0: missing once; too early to look again
        now[0] = t
        processor.watch()
    assert fresh == []
    now[0] = 31.0  # second check: missing twice in a row
    processor.watch()
    assert len(fresh) == 1
    assert processor.stats["rejoins"] == 1
    assert processor.consumer is fresh[0]
    assert fresh[0].subscribed == ["t"]


def test_a_member_of_its_group_is_left_alone() -> None:
    processor, fresh, now = _watched(members=["g-7", "g-42"])
    for t in (0.0, 31.0, 62.0, 93.0):
        now[0] = t
        processor.watch()
    assert fresh == []
    assert processor.stats["rejoins"] == 0


def test_a_membership_check_that_fails_is_skipped_not_raised() -> None:
    def members() -> list[str]:
        raise KafkaTimeoutError("no coordinator")

    rejoin = Rejoin("g-1", members, lambda: FakeConsumer([]), after=0)
    processor = processor_for([], FakeDatabase(), nothing, RecordingSink(), rejoin=rejoin)
    processor.watch()
    assert processor.stats["rejoins"] == 0
    assert processor.condition.trouble == "kafka (group membership)"
