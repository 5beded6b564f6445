"""The HA topology holds when a node dies under load (issue 28): kill -9 of the Connect worker
running the task and of one broker while orders are placed; the task moves to the other
worker, the killed parts start again, and the set-based checker (chaos.verdict) finds every
event on the topic once per (order, type) and handled once by every group, none lost.

Run by ``make test-ha`` (it starts the HA stack if needed: ``make up TOPOLOGY=ha``); skipped by
``make test``, whose stack is the single topology (both cannot run on one Postgres slot).
"""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

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
from stack.connect_mode import task_worker
from stack.layout import Layout
from stack.parts import Part, stack_parts
from stack.rest import ConnectRest
from stack.settings import StackSettings
from tests.conftest import ROOT
from tests.kafka_helpers import ORDER_TOPIC, register_connector

# Decided before any fixture asks a service: make exports STACK_TOPOLOGY (TOPOLOGY=, else the
# topology make up last started).
pytestmark = [
    pytest.mark.ha,
    pytest.mark.skipif(
        StackSettings(_env_file=ROOT / ".env").stack_topology != "ha",
        reason="the HA topology's test: make test-ha",
    ),
]
CONNECTOR = "orders-outbox"


@pytest.fixture(scope="module")
def ha(stack_settings: StackSettings) -> StackSettings:
    return stack_settings


@pytest.fixture
def parts(ha: StackSettings) -> Iterator[dict[str, Part]]:
    """The stack's parts by name; any this test killed is started again afterwards."""
    found = {p.name: p for p in stack_parts(Layout(ROOT), ha)}
    yield found
    for part in found.values():
        part.up()


def _kill(part: Part) -> None:
    pid = part.pid()
    assert pid is not None, f"{part.name} is not running"
    os.kill(pid, signal.SIGKILL)


def _settle(ha: StackSettings, timeout: float = 300) -> float:
    """Seconds until Debezium confirmed the WAL written by now (every event is on the topic)
    and no group lags (every event handled): a group lags 0 too while the moved task has not
    streamed yet."""
    t0, dsn = time.monotonic(), ha.admin_dsn()
    lsn = observe.wal_head(dsn)
    while observe.slot_behind(dsn, lsn) > 0 or any(
        r.lag for r in group_lag(ha.kafka_as("tools"), list(GROUPS))
    ):
        assert time.monotonic() - t0 < timeout, f"not settled after {timeout:.0f}s"
        time.sleep(2)
    return time.monotonic() - t0


def test_kill_9_of_the_tasks_worker_and_a_broker_mid_seed_loses_and_doubles_nothing(
    ha: StackSettings,
    parts: dict[str, Part],
    connect_up: ConnectRest,
    producer: Producer,
    apps_running: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    register_connector(connect_up)
    tools, dsn = ha.kafka_as("tools"), ha.admin_dsn()
    with psycopg.connect(dsn, autocommit=True) as conn:
        before = [r[0] for r in conn.execute("SELECT id FROM orders.orders")]
    topic_at = end_offsets(tools, ORDER_TOPIC)
    letters_at = {g: end_offsets(tools, dlq_topic(g)) for g in GROUPS}
    on = task_worker(connect_up)
    worker = next(w for w in ha.topology.workers if on == f"{w.host}:{w.port}")
    broker = ha.topology.brokers[1]

    result: list[SeedResult] = []
    seeding = threading.Thread(
        target=lambda: result.append(
            seed(producer, client="tests", orders=1500, rate=100, show_progress=False)
        )
    )
    seeding.start()
    time.sleep(4)
    _kill(parts[worker.name])
    killed_at = time.monotonic()
    time.sleep(2)
    _kill(parts[broker.name])
    while task_worker(connect_up) in (None, on):
        assert time.monotonic() - killed_at < 120, "the task did not move to the other worker"
        time.sleep(1)
    moved = time.monotonic() - killed_at
    seeding.join(timeout=300)
    assert [r.orders for r in result] == [1500]
    settled = _settle(ha)

    messages: list[Any] = observe.messages_since(tools, ORDER_TOPIC, topic_at)
    verdict = judge(
        dsn,
        [uuid.UUID(str(o)) for o in before],
        messages,
        {g: observe.messages_since(tools, dlq_topic(g), letters_at[g]) for g in GROUPS},
        set(),
    )
    with capsys.disabled():
        print(
            f"\nHA failover: {worker.name} and {broker.name} killed; task moved in {moved:.1f}s; "
            f"{verdict.expected_events} events, {verdict.topic_duplicates} re-published; "
            f"groups settled {settled:.0f}s after the seed"
        )
    assert verdict.run_orders == 1500
    assert (verdict.lost, verdict.doubled) == (0, 0), verdict
    assert all(g.dead_lettered == 0 for g in verdict.groups.values()), verdict
    assert verdict.holds
