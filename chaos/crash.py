"""Crash-grade faults: what a host, a kernel or a network does to a pipeline, not what an
operator does politely. Each is injected, held for ``ctx.hold`` seconds where it lasts, and
waited out; each returns the seconds from injection to a healthy pipeline."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

from chaos import network, records
from chaos.disk import small_tablespace
from chaos.faults import (
    ORDER_TOPIC,
    Context,
    Fault,
    NotInjected,
    recovered,
    until_consumed,
    wait_until,
)
from ops.lag import group_lag
from stack import postgres
from stack.process import group_members


def sigkill(ctx: Context, name: str) -> None:
    part = ctx.part(name)
    pid = part.pid()
    if pid is None:
        raise NotInjected(f"{name} is not running")
    os.killpg(pid, signal.SIGKILL)
    wait_until(lambda: part.pid() is None, 30, f"{name} to die", NotInjected)


def kill_kafka(ctx: Context) -> float:
    started = time.monotonic()
    sigkill(ctx, "kafka")
    time.sleep(2)
    ctx.part("kafka").up()
    return recovered(ctx, started)


def crash_postgres(ctx: Context) -> float:
    """An immediate shutdown: no checkpoint, so the next start runs crash recovery."""
    started = time.monotonic()
    postgres.stop(ctx.layout, mode="immediate")
    time.sleep(2)
    postgres.start(ctx.layout, ctx.settings)
    return recovered(ctx, started)


def _consumer_processes(ctx: Context) -> list[int]:
    """The consumer processes under the supervisor (multiprocessing's spawned children)."""
    leader = ctx.consumers.pid()
    if leader is None:
        raise NotInjected("the consumers are not running")
    return [
        pid
        for pid in group_members(leader)
        if pid != leader and b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()
    ]


def stop_consumer(ctx: Context) -> float:
    """SIGSTOP one consumer past its session timeout: its partitions move on, and when it
    wakes (SIGCONT) it is a zombie with a batch in hand: its late work must be harmless."""
    started = time.monotonic()
    pids = _consumer_processes(ctx)
    if not pids:
        raise NotInjected("no consumer process to stop")
    victim = pids[int(started) % len(pids)]
    os.kill(victim, signal.SIGSTOP)
    try:
        time.sleep(max(ctx.hold, 15.0))  # session.timeout.ms is 10 s
    finally:
        os.kill(victim, signal.SIGCONT)
    return recovered(ctx, started)


def stop_connect(ctx: Context) -> float:
    """Freeze the Connect worker (GC pause, a stalled VM): Debezium stops mid-stream."""
    started = time.monotonic()
    pid = ctx.part("connect").pid()
    if pid is None:
        raise NotInjected("connect is not running")
    os.killpg(pid, signal.SIGSTOP)
    try:
        time.sleep(ctx.hold)
    finally:
        os.killpg(pid, signal.SIGCONT)
    return recovered(ctx, started)


def _partition(port: Callable[[Context], int]) -> Fault:
    def fault(ctx: Context) -> float:
        started = time.monotonic()
        with network.partitioned(port(ctx)):
            time.sleep(ctx.hold)
        return recovered(ctx, started)

    return fault


def disk_full(ctx: Context) -> float:
    """The notifications table on a full volume: its group waits, the others go on."""
    started = time.monotonic()
    with small_tablespace(ctx.settings.admin_dsn(), "chaos_full", size_mb=64) as space:
        space.move("consumers.notifications")
        space.fill()
        time.sleep(ctx.hold)
        space.free()
        # Kafka may be slow to answer here (another fault of an overlap): that is not yet.
        wait_until(lambda: _notifications_caught_up(ctx), 180, "notifications to catch up")
    return recovered(ctx, started)


def _notifications_caught_up(ctx: Context) -> bool:
    return sum(r.lag for r in group_lag(ctx.settings.kafka_as("tools"), ["notifications"])) == 0


def reconfigure_connector(ctx: Context) -> float:
    """A config change mid-stream (Connect restarts the task with it), a restart of the
    connector and its task, then the original config back."""
    started = time.monotonic()
    rest, path = ctx.settings.connect_rest(), "/connectors/orders-outbox"
    original = rest.call(f"{path}/config")
    assert isinstance(original, dict)
    changed = {**original, "max.batch.size": "512", "poll.interval.ms": "50"}
    rest.call(f"{path}/config", method="PUT", body=changed)
    time.sleep(3)
    rest.call(f"{path}/restart?includeTasks=true", method="POST")
    time.sleep(3)
    rest.call(f"{path}/config", method="PUT", body=original)
    return recovered(ctx, started)


def odd_records(ctx: Context) -> float:
    """A null record, a tombstone and an oversized record on the event topic."""
    started = time.monotonic()
    bootstrap = ctx.settings.kafka_as("tools")
    before = records.ends(bootstrap, ORDER_TOPIC)
    records.null_record(ctx.layout, bootstrap, ORDER_TOPIC)
    records.tombstone_and_oversized(bootstrap, ORDER_TOPIC, b"chaos-odd", partition=0)
    ctx.injected(*records.odd_since(bootstrap, before))
    return recovered(ctx, started)


def overrun(ctx: Context) -> float:
    """The next handler call runs a statement past its bound; Postgres cancels it."""
    started = time.monotonic()
    ctx.overrun_file.touch()
    until_consumed(ctx, ctx.overrun_file)
    time.sleep(12)  # the statement runs until the default 10 s bound cancels it
    return recovered(ctx, started)


def overlap(*faults: Fault) -> Fault:
    """Several faults at once; recovered when the slowest has."""

    def fault(ctx: Context) -> float:
        times: list[float] = []
        errors: list[BaseException] = []

        def one(f: Fault) -> None:
            try:
                times.append(f(ctx))
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=one, args=(f,)) for f in faults]
        for t in threads:
            t.start()
            time.sleep(1)
        for t in threads:
            t.join()
        # The pipeline's failure first: a part of the overlap the harness could not bring
        # about is only reported as such when nothing else went wrong.
        for exc in sorted(errors, key=lambda e: isinstance(e, NotInjected)):
            raise exc
        return max(times)

    return fault


partition_from_kafka = _partition(lambda ctx: ctx.settings.kafka_port)
partition_from_postgres = _partition(lambda ctx: ctx.settings.postgres_port)

CRASH: dict[str, Fault] = {
    "kill -9 kafka": kill_kafka,
    "postgres crash (immediate stop then recovery)": crash_postgres,
    "SIGSTOP a consumer past its session timeout": stop_consumer,
    "SIGSTOP connect": stop_connect,
    "partition: consumers from kafka": partition_from_kafka,
    "partition: consumers from postgres": partition_from_postgres,
    "postgres out of disk (notifications)": disk_full,
    "connector config changed and restarted": reconfigure_connector,
    "odd records: null + tombstone + oversized": odd_records,
    "handler past its bound": overrun,
    "overlap: kill -9 kafka + postgres crash": overlap(kill_kafka, crash_postgres),
    "overlap: partition from kafka + disk full": overlap(partition_from_kafka, disk_full),
    "overlap: SIGSTOP connect + SIGSTOP consumer + odd records": overlap(
        stop_connect, stop_consumer, odd_records
    ),
}
