"""Faults that are nobody's message: the consumer waits them out, dead-letters nothing and
skips nothing, and applies everything once the fault is gone. And records of odd shapes: each
is dead-lettered (reduced when it cannot be written as it is) and the group carries on.

Every test runs the real runtime against the real Postgres and Kafka, on a topic and a
group of its own (``Rig``)."""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from kafka import KafkaAdminClient, KafkaConsumer

from chaos import records
from chaos.disk import can_mount, small_tablespace
from consumer_runtime import HandlerContext, handler
from consumer_runtime.processor import EventProcessor
from consumers.bootstrap import Running, bootstrap
from consumers.events import OrderPlaced
from consumers.handlers.notifications import notify
from contract.database import group_role
from stack.layout import Layout
from stack.parts import stack_parts
from stack.settings import StackSettings
from tests.conftest import ROOT
from tests.consumer_fakes import registered
from tests.integration.conftest import Rig, run_until

pytestmark = pytest.mark.integration


class Background:
    """A processor running in a thread, as in production, until ``stop()``."""

    def __init__(self, running: Running) -> None:
        self.running = running
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self.running.processor.run(until=lambda p: self._stop.is_set())
        except BaseException as exc:  # the test asserts there was none
            self.error = exc

    @property
    def processor(self) -> EventProcessor:
        return self.running.processor

    def alive(self) -> bool:
        return self._thread.is_alive()

    def wait(self, done: Callable[[EventProcessor], bool], timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while not done(self.processor):
            assert self.alive(), f"the processor exited: {self.error!r}"
            assert time.monotonic() < deadline, f"not done in {timeout}s: {self.processor.stats}"
            time.sleep(0.2)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(60)
        self.running.close()


def committed(rig: Rig, group: str | None = None) -> int:
    """Offsets the group committed on the test topic, summed over partitions."""
    admin = KafkaAdminClient(**rig.bootstrap_servers.client())
    try:
        name = group or rig.group
        offsets = admin.list_group_offsets(name).get(name, {})
    finally:
        admin.close()
    return sum(o.offset for tp, o in offsets.items() if tp.topic == rig.topic)


def dead_letters(rig: Rig) -> list[Any]:
    c = KafkaConsumer(
        f"dlq.{rig.group}",
        **rig.bootstrap_servers.client(),
        auto_offset_reset="earliest",
        consumer_timeout_ms=5_000,
        max_partition_fetch_bytes=4 << 20,
    )
    try:
        return list(c)
    finally:
        c.close()


def test_null_tombstone_and_oversized_records_are_dead_lettered_and_the_group_goes_on(
    rig: Rig,
) -> None:
    records.null_record(Layout(ROOT), rig.bootstrap_servers, rig.topic)
    size = records.tombstone_and_oversized(rig.bootstrap_servers, rig.topic, b"order-x")
    rig.produce(rig.placed(3, partitions=1))

    running = rig.start()
    try:
        run_until(running.processor, lambda p: p.stats["handled"] >= 3)
    finally:
        running.close()
    stats = running.processor.stats
    assert (stats["handled"], stats["dead_lettered"]) == (3, 3)
    assert committed(rig) == 6  # every offset moved past: nothing stuck, nothing skipped

    letters = {dict(m.headers).get("dlq.omitted"): m for m in dead_letters(rig)}
    assert set(letters) == {b"key and value", None, b"value"}
    null, tombstone, oversized = letters[b"key and value"], letters[None], letters[b"value"]
    assert dict(null.headers)["dlq.reason"].startswith(b"poison: message has no value")
    assert dict(tombstone.headers)["dlq.reason"].startswith(b"poison: message has no value")
    headers = dict(null.headers)  # reduced, keyed by its origin
    assert null.key == f"{rig.topic}[{headers['dlq.partition'].decode()}]@0".encode()
    assert (null.value, headers["dlq.omitted"]) == (None, b"key and value")
    assert (tombstone.key, tombstone.value) == (b"order-x", None)  # writable as it is
    assert "dlq.omitted" not in dict(tombstone.headers)
    headers = dict(oversized.headers)  # too large with our headers: value left out
    assert (oversized.key, oversized.value) == (b"order-x", None)
    assert headers["dlq.original_size"] == str(size).encode()
    assert b"MessageSizeTooLargeError" in headers["dlq.reason"]

    # The same records read again from the start (a reset, a new instance): their marks in
    # processed_events make them duplicates, and nothing is dead-lettered twice.
    again = bootstrap(rig.settings(), rig.registration(), kafka_group=f"{rig.group}.again")
    try:
        run_until(again.processor, lambda p: p.stats["duplicate"] >= 6)
    finally:
        again.close()
    assert again.processor.stats["dead_lettered"] == 0
    assert len(dead_letters(rig)) == 3
    admin = KafkaAdminClient(**rig.bootstrap_servers.client())
    admin.delete_groups([f"{rig.group}.again"])
    admin.close()


def _wait_outages(bg: Background, n: int = 2) -> None:
    bg.wait(lambda p: p.stats["outages"] >= n, timeout=60)
    assert bg.processor.stats["handled"] == 0


@pytest.fixture
def read_only_role(rig: Rig, admin_conn: psycopg.Connection[Any]) -> Iterator[str]:
    """The rig's group role with read-only sessions: what a failover to a standby, or a
    ``default_transaction_read_only`` guard, looks like."""
    role = f'"{group_role(rig.group)}"'
    admin_conn.execute(f"ALTER ROLE {role} SET default_transaction_read_only = on")
    yield role
    admin_conn.execute(f"ALTER ROLE {role} RESET default_transaction_read_only")


def test_a_read_only_database_is_waited_out_not_dead_lettered(
    rig: Rig, read_only_role: str, admin_conn: psycopg.Connection[Any]
) -> None:
    role = read_only_role
    rig.produce(rig.placed(10, partitions=6))
    bg = Background(bootstrap(rig.settings(), rig.registration()))
    try:
        _wait_outages(bg)  # 25006 on a live connection: the infrastructure's fault
        assert committed(rig) == 0  # no offset moved: nothing skipped
        admin_conn.execute(f"ALTER ROLE {role} RESET default_transaction_read_only")
        bg.wait(lambda p: p.stats["handled"] >= 10)  # a fresh session is writable again
    finally:
        bg.stop()
    assert bg.processor.stats["dead_lettered"] == 0
    assert rig.notifications() == 10
    assert committed(rig) == 10
    assert dead_letters(rig) == []


@pytest.mark.skipif(not can_mount(), reason="mounting a tmpfs tablespace needs root")
def test_a_full_tablespace_is_waited_out_not_dead_lettered(
    rig: Rig, admin_conn: psycopg.Connection[Any], stack_settings: StackSettings
) -> None:
    table = f"consumers.it_full_{uuid.uuid4().hex[:8]}"
    with small_tablespace(stack_settings.admin_dsn(), f"it_full_{uuid.uuid4().hex[:8]}", 1) as ts:
        admin_conn.execute(
            f"CREATE TABLE {table} (event_id uuid PRIMARY KEY, body text) TABLESPACE {ts.name}"
        )
        admin_conn.execute(f'GRANT INSERT, SELECT ON {table} TO "{group_role(rig.group)}"')
        try:

            @handler(rig.group)
            def handle(event: OrderPlaced, ctx: HandlerContext) -> None:
                ctx.connection.execute(
                    f"INSERT INTO {table} VALUES (%s, repeat('x', 500))", (event.event_id,)
                )

            ts.fill()
            rig.produce(rig.placed(10, partitions=6))
            bg = Background(bootstrap(rig.settings(), registered(handle)))
            try:
                _wait_outages(bg)  # 53100 disk full: waited out
                assert committed(rig) == 0
                ts.free()
                bg.wait(lambda p: p.stats["handled"] >= 10)
            finally:
                bg.stop()
            rows = admin_conn.execute(f"SELECT count(*) FROM {table}").fetchone()
        finally:
            admin_conn.execute(f"DROP TABLE {table}")
    assert rows == (10,)
    assert bg.processor.stats["dead_lettered"] == 0
    assert committed(rig) == 10
    assert dead_letters(rig) == []


def test_a_handler_past_its_bound_is_cut_off_by_the_database_then_retried_or_dead_lettered(
    rig: Rig,
) -> None:
    """Bound 1 s. ``slow_once`` runs one statement past it on its first attempt only: retried
    and handled. ``stuck`` always does: dead-lettered after its attempts. ``blocked`` sits
    idle in its transaction past the bound (a call to a service that hangs): Postgres ends
    the session, the batch is redelivered, and after three overruns it is dead-lettered."""
    messages = rig.placed(6, partitions=1)
    slow_once, stuck, blocked = rig.event_ids[1], rig.event_ids[2], rig.event_ids[4]
    seen: list[uuid.UUID] = []

    @handler(rig.group)
    def handle(event: OrderPlaced, ctx: HandlerContext) -> None:
        seen.append(event.event_id)
        if event.event_id == stuck or (event.event_id == slow_once and seen.count(slow_once) == 1):
            ctx.connection.execute("SELECT pg_sleep(3)")
        if event.event_id == blocked:
            ctx.connection.execute("SELECT 1").fetchone()  # in a transaction on the server
            time.sleep(1.5)
        notify(event, ctx)

    rig.produce(messages)
    settings = rig.settings(
        handler_timeout_seconds=1.0, retry_max_seconds=0.1, dlq_send_timeout_seconds=0.9
    )
    running = bootstrap(settings, registered(handle))
    try:
        run_until(
            running.processor,
            lambda p: p.stats["handled"] + p.stats["dead_lettered"] >= 6,
            timeout=120,
        )
    finally:
        running.close()
    stats = running.processor.stats
    assert (stats["handled"], stats["dead_lettered"]) == (4, 2)
    assert rig.notifications() == 4
    reasons = {
        dict(m.headers)["id"].decode(): dict(m.headers)["dlq.reason"].decode()
        for m in dead_letters(rig)
    }
    assert set(reasons) == {str(stuck), str(blocked)}
    assert "overran its 1s bound" in reasons[str(stuck)]
    assert "overran its 1s bound 3 times" in reasons[str(blocked)]
    assert committed(rig) == 6


@pytest.fixture
def kafka_part(stack_settings: StackSettings, restart_connector_after: None) -> Iterator[Any]:
    kafka = next(p for p in stack_parts(Layout(ROOT), stack_settings) if p.name == "kafka")
    yield kafka
    kafka.up()


def test_kafka_gone_longer_than_the_session_timeout_is_waited_out(
    rig: Rig, kafka_part: Any
) -> None:
    """The broker is killed (SIGKILL) for longer than the session timeout, once under a
    running processor and once before another has even started: neither exits, and both
    handle what is produced once the broker is back."""
    rig.produce(rig.placed(5, partitions=6))
    settings = rig.settings(session_timeout_ms=6000, heartbeat_interval_ms=2000)
    bg = Background(bootstrap(settings, rig.registration()))
    try:
        bg.wait(lambda p: p.stats["handled"] >= 5)
        _kill(kafka_part)
        late: dict[str, Running] = {}
        starter = threading.Thread(
            target=lambda: late.setdefault(
                "r", bootstrap(settings, rig.registration("b"), kafka_group=f"{rig.group}.b")
            ),
            daemon=True,
        )
        starter.start()  # bootstrap waits for the broker instead of raising
        time.sleep(15)
        assert bg.alive(), f"the processor exited: {bg.error!r}"
        assert starter.is_alive()
        assert "r" not in late
        kafka_part.up()
        starter.join(120)
        rig.produce(rig.placed(5, partitions=6))
        bg.wait(lambda p: p.stats["handled"] >= 10, timeout=120)
        second = Background(late["r"])  # same handler name, another Kafka group: it reads
        try:  # all ten, which the first one handled, as duplicates
            second.wait(lambda p: p.stats["duplicate"] >= 10, timeout=120)
        finally:
            second.stop()
            admin = KafkaAdminClient(**rig.bootstrap_servers.client())
            admin.delete_groups([f"{rig.group}.b"])
            admin.close()
    finally:
        bg.stop()
    assert bg.processor.stats["dead_lettered"] == 0
    assert rig.notifications() == 10


def _kill(part: Any) -> None:
    pid = part.pid()
    assert pid is not None
    os.killpg(pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while part.pid() is not None:
        assert time.monotonic() < deadline, "the broker did not die"
        time.sleep(0.2)
