"""Connect's exactly-once source (KIP-618) on the real stack: the workers restarted with
``exactly.once.source.support=enabled``, the connector registered requiring it, the
transactional ids granted (``stack.kafka_auth``), then kill -9 of the worker running the task
while orders are placed. What the issue asks of it: a ``read_committed`` reader (as the
consumers read) finds every event on the topic once, none re-published; the groups' committed
offsets reach the partitions' ends, past every transaction's commit marker (the lag is 0, which
committing the last message + 1 never reaches); nothing lost or doubled in any group
(``chaos.verdict``, sets of ids). The workers go back to the configured mode afterwards.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import psycopg
import pytest

from chaos import observe
from chaos.faults import GROUPS
from chaos.verdict import judge
from contract.kafka_reads import end_offsets
from contract.topics import dlq_topic
from ops.lag import group_lag
from producer_app.bootstrap import Producer
from producer_app.entrypoints.seed import SeedResult, seed
from stack.connect_mode import kill_task_worker, restart_workers
from stack.layout import Layout
from stack.settings import StackSettings
from tests.conftest import ROOT
from tests.kafka_helpers import ORDER_TOPIC

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def exactly_once(stack_settings: StackSettings) -> Iterator[StackSettings]:
    on = stack_settings.model_copy(update={"connect_exactly_once": True})
    restart_workers(Layout(ROOT), on)
    yield on
    restart_workers(Layout(ROOT), stack_settings)


def _settled(settings: StackSettings, timeout: float = 300) -> None:
    """Debezium confirmed the WAL written by now and no group lags: the committed offsets
    are at the partitions' ends, past the markers."""
    dsn, deadline = settings.admin_dsn(), time.monotonic() + timeout
    lsn = observe.wal_head(dsn)
    while True:
        lags = {r.group: r.lag for r in group_lag(settings.kafka_as("tools"), list(GROUPS))}
        if observe.slot_behind(dsn, lsn) == 0 and not any(lags.values()):
            return
        assert time.monotonic() < deadline, f"not settled in {timeout:.0f}s: lag {lags}"
        time.sleep(2)


def test_kill_9_of_the_tasks_worker_republishes_nothing_a_consumer_reads(
    exactly_once: StackSettings,
    producer: Producer,
    apps_running: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    tools, dsn = exactly_once.kafka_as("tools"), exactly_once.admin_dsn()
    with psycopg.connect(dsn, autocommit=True) as conn:
        before = [r[0] for r in conn.execute("SELECT id FROM orders.orders")]
    topic_at = end_offsets(tools, ORDER_TOPIC)
    letters_at = {g: end_offsets(tools, dlq_topic(g)) for g in GROUPS}
    result: list[SeedResult] = []
    seeding = threading.Thread(
        target=lambda: result.append(
            seed(producer, client="tests", orders=600, rate=100, show_progress=False)
        )
    )
    seeding.start()
    time.sleep(2)
    victim, back = kill_task_worker(Layout(ROOT), exactly_once)
    victim.up()
    seeding.join(timeout=300)
    assert [r.orders for r in result] == [600]
    _settled(exactly_once)

    committed = observe.messages_since(tools, ORDER_TOPIC, topic_at, committed=True)
    everything = observe.messages_since(tools, ORDER_TOPIC, topic_at)
    verdict = judge(
        dsn,
        [uuid.UUID(str(o)) for o in before],
        committed,
        {g: observe.messages_since(tools, dlq_topic(g), letters_at[g]) for g in GROUPS},
        set(),
    )
    with capsys.disabled():
        print(
            f"\nexactly-once source: {victim.name} killed, task back in {back:.1f}s; "
            f"{verdict.expected_events} events, {verdict.topic_duplicates} re-published as "
            f"read_committed sees them, {len(everything) - len(committed)} aborted in the log"
        )
    assert verdict.run_orders == 600
    assert (verdict.lost, verdict.doubled) == (0, 0), verdict
    assert verdict.topic_duplicates == 0, verdict
    assert verdict.holds
