"""Consumer groups against real Kafka and Postgres, on a topic of their own per test: a
duplicate delivery, a crash between the two commits, a poison message, two instances, and
Postgres stopped mid-stream. Each test uses the real ``notifications`` handler under a group
name of its own, and removes its rows afterwards."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time

import pytest
from kafka import KafkaConsumer

from consumer_runtime import HandlerContext, handler
from consumers.bootstrap import bootstrap
from consumers.events import OrderPlaced
from consumers.handlers.notifications import notify
from stack import postgres as stack_postgres
from stack.layout import Layout
from stack.settings import StackSettings
from tests.conftest import ROOT
from tests.consumer_fakes import registered
from tests.integration.conftest import Rig, run_until

pytestmark = pytest.mark.integration


def test_a_message_delivered_twice_has_one_effect(rig: Rig) -> None:
    [message] = rig.placed(1)
    rig.produce([message, message])
    running = rig.start()
    try:
        run_until(running.processor, lambda p: p.stats["handled"] + p.stats["duplicate"] >= 2)
    finally:
        running.close()
    assert running.processor.stats["handled"] == 1
    assert running.processor.stats["duplicate"] == 1
    assert rig.notifications() == 1


# The first instance runs in a process of its own that SIGKILLs itself right after the
# database commit, before the offset commit: no listener, no close, exactly like kill -9.
KILLED_IN_THE_GAP = """
import os, signal, sys
from consumer_runtime import Extras, group_registrations, handler
from consumers.bootstrap import bootstrap
from consumers.events import EVENTS
from consumers.handlers.notifications import notify
from consumers.settings import ConsumerSettings

topic, group = sys.argv[1], sys.argv[2]
settings = ConsumerSettings(topic=topic, session_timeout_ms=6000, heartbeat_interval_ms=2000)
[registration] = group_registrations([handler(group)(notify.fn)], EVENTS).values()
crash = Extras(on_db_committed=lambda: os.kill(os.getpid(), signal.SIGKILL))
running = bootstrap(settings, registration, extras=crash)
running.processor.run()
"""


def test_killed_between_db_commit_and_offset_commit_applies_nothing_twice(rig: Rig) -> None:
    rig.produce(rig.placed(12, partitions=3))
    child = subprocess.run(
        [sys.executable, "-c", KILLED_IN_THE_GAP, rig.topic, rig.group],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr[-2000:]
    committed_db = rig.notifications()
    assert committed_db > 0  # the database committed the first batch ...

    second = rig.start()  # ... but no offset did: the same group must see it all again
    try:
        run_until(second.processor, lambda p: p.stats["handled"] + p.stats["duplicate"] >= 12)
    finally:
        second.close()
    assert second.processor.stats["duplicate"] == committed_db
    assert second.processor.stats["handled"] == 12 - committed_db
    assert rig.notifications() == 12


def test_a_poison_message_goes_to_the_dead_letter_topic_and_the_group_goes_on(
    rig: Rig,
) -> None:
    good = rig.placed(1)[0]
    poison = (
        0,
        b"order-1",
        b"\x00garbage, not avro",
        [("id", b"bad-1"), ("event_type", b"OrderPlaced")],
    )
    rig.produce([poison, good])
    running = rig.start()
    try:
        run_until(running.processor, lambda p: p.stats["handled"] >= 1)
    finally:
        running.close()
    assert running.processor.stats["dead_lettered"] == 1
    assert rig.notifications() == 1
    dlq = KafkaConsumer(
        f"dlq.{rig.group}",
        **rig.bootstrap_servers.client(),
        auto_offset_reset="earliest",
        consumer_timeout_ms=10_000,
    )
    [dead] = [m for m, _ in zip(dlq, range(1), strict=False)]
    dlq.close()
    headers = {k: v.decode() for k, v in dead.headers}
    assert dead.key == b"order-1"
    assert dead.value == b"\x00garbage, not avro"
    assert headers["id"] == "bad-1"
    assert headers["dlq.reason"].startswith("poison: not Avro single-object encoding")
    assert headers["dlq.handler"] == rig.group
    assert (headers["dlq.topic"], headers["dlq.partition"], headers["dlq.offset"]) == (
        rig.topic,
        "0",
        "0",
    )


def test_a_database_error_in_a_pipelined_batch_dead_letters_only_its_message(
    rig: Rig,
) -> None:
    """The optimistic batch pipelines statements, so Postgres reports a failing statement at a
    later one or at commit, not where it was sent. The batch must be rerun with a savepoint
    per message, so exactly the failing event is dead-lettered (once) and every other one is
    handled once."""
    messages = rig.placed(30)
    bad = rig.event_ids[7]

    @handler(rig.group)
    def handle(event: OrderPlaced, ctx: HandlerContext) -> None:
        notify(event, ctx)
        if event.event_id == bad:
            ctx.connection.execute("SELECT 1 / 0")  # result never read: fails late

    rig.produce(messages)
    running = bootstrap(rig.settings(), registered(handle))
    try:
        run_until(running.processor, lambda p: p.stats["handled"] + p.stats["dead_lettered"] >= 30)
    finally:
        running.close()
    stats = running.processor.stats
    assert (stats["handled"], stats["dead_lettered"]) == (29, 1)
    assert stats["isolations"] >= 1
    assert rig.notifications() == 29
    outcomes = dict(
        rig.sql(
            "SELECT event_id, outcome FROM consumers.processed_events WHERE consumer_group = %s",
            rig.group,
        )
    )
    # Every event has its mark: handled, or (the bad one) dead-lettered, so a redelivery
    # would not dead-letter it again.
    assert outcomes == {i: "dead_lettered" if i == bad else "handled" for i in rig.event_ids}
    dlq = KafkaConsumer(
        f"dlq.{rig.group}",
        **rig.bootstrap_servers.client(),
        auto_offset_reset="earliest",
        consumer_timeout_ms=5_000,
    )
    dead = list(dlq)
    dlq.close()
    assert len(dead) == 1
    assert "division by zero" in dict(dead[0].headers)["dlq.reason"].decode()


def test_two_instances_split_the_partitions_and_handle_each_message_once(rig: Rig) -> None:
    a, b = rig.start("a"), rig.start("b")

    def total() -> int:
        return sum(p.stats["handled"] for p in (a.processor, b.processor))

    threads = [
        threading.Thread(target=run_until, args=(r.processor, lambda p: total() >= 60))
        for r in (a, b)
    ]
    try:
        for t in threads:
            t.start()
        # Produce only once both own partitions, or the first to join drains the topic alone.
        # "Own" means a settled split, held for a second: each reports its assignment as it
        # sees it, and mid-rebalance the first still reports partitions it is about to lose.
        deadline, settled_since = time.monotonic() + 60, None
        while settled_since is None or time.monotonic() - settled_since < 1.0:
            assert time.monotonic() < deadline, "the two instances never shared the group"
            pa, pb = a.processor.assignment(), b.processor.assignment()
            split = bool(pa) and bool(pb) and not pa & pb and len(pa | pb) == 6
            settled_since = (settled_since or time.monotonic()) if split else None
            time.sleep(0.2)
        rig.produce(rig.placed(60, partitions=6))
        for t in threads:
            t.join()
    finally:
        a.close()
        b.close()
    assert total() == 60
    assert rig.notifications() == 60
    assert sum(rig.partitions_seen.values()) == 60  # no message handled twice
    by_instance: dict[str, set[int]] = {"a": set(), "b": set()}
    for (instance, partition), _ in rig.partitions_seen.items():
        by_instance[instance].add(partition)
    # The split is asserted above, where it was observed (settled, when the messages went in).
    # kafka-python 3.0.12 was seen (twice in CI, right after the broker-kill test) to drop one
    # instance from its group moments later; the other then takes every partition. What this
    # test is for still holds then: nothing lost, nothing handled twice. When both handled
    # messages, each partition had one owner.
    if by_instance["a"] and by_instance["b"]:
        assert not by_instance["a"] & by_instance["b"], by_instance


def test_postgres_stopped_mid_stream_loses_nothing_and_dead_letters_nothing(
    rig: Rig, stack_settings: StackSettings, restart_connector_after: None
) -> None:
    layout = Layout(ROOT)
    rig.produce(rig.placed(20, partitions=6))
    running = rig.start()
    try:
        run_until(running.processor, lambda p: p.stats["handled"] >= 20)
        stack_postgres.stop(layout)
        rig.produce(rig.placed(30, partitions=6))
        outage_seen = threading.Event()

        def restart_later() -> None:
            deadline = time.monotonic() + 30
            while running.processor.stats["outages"] < 2 and time.monotonic() < deadline:
                time.sleep(0.2)
            outage_seen.set()
            stack_postgres.start(layout, stack_settings)

        restarter = threading.Thread(target=restart_later)
        restarter.start()
        try:
            run_until(running.processor, lambda p: p.stats["handled"] >= 50, timeout=90)
        finally:
            restarter.join()
    finally:
        if stack_postgres.pid(layout) is None:
            stack_postgres.start(layout, stack_settings)
        running.close()
    assert outage_seen.is_set()
    assert running.processor.stats["outages"] >= 2
    assert running.processor.stats["dead_lettered"] == 0
    assert rig.notifications() == 50
