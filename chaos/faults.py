"""Faults against the native stack, each injected and then waited out; each returns the
seconds until the pipeline was healthy again (its time to recover). The polite ones are
here; the crash-grade ones (SIGKILL, SIGSTOP, crash recovery, partitions, a full disk, odd
records, an overrun, overlaps) in ``chaos.crash``; ``FAULTS`` names them all."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from kafka import KafkaProducer
from kafka.errors import KafkaError

from chaos.windows import Window
from contract.groups import CONSUMER_GROUPS
from ops.errors import Unreachable
from stack import connect, postgres
from stack.health import groups_probe
from stack.layout import Layout
from stack.parts import Part, app_parts, stack_parts
from stack.process import read_pid
from stack.settings import StackSettings

GROUPS = sorted(CONSUMER_GROUPS)
ORDER_TOPIC = "outbox.event.order"


Position = tuple[str, int, int]  # topic, partition, offset
Fault = Callable[["Context"], float]


@dataclass
class Context:
    """``hold``: how long a fault that lasts (a partition, a stopped process, a full disk)
    is kept up; ``consumers``: the consumers' part as the chaos run starts it."""

    layout: Layout
    settings: StackSettings
    fault_file: Path
    overrun_file: Path
    consumers: Part
    hold: float = 15.0
    nudge: Callable[[], None] = lambda: None
    poison: set[Position] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Parts as the chaos run starts them instead of as ``make up`` does (the HA run's brokers,
    # each under a group id of its own: ``chaos.network.as_broker``).
    overrides: dict[str, Part] = field(default_factory=dict)
    # The failover injections' windows on the event topic: whose a duplicate is.
    windows: list[Window] = field(default_factory=list)
    note: str = ""  # what the current failover injection hit and saw, for its window

    def part(self, name: str) -> Part:
        if name == "consumers":
            return self.consumers
        if name in self.overrides:
            return self.overrides[name]
        return next(
            p
            for p in stack_parts(self.layout, self.settings) + app_parts(self.layout, self.settings)
            if p.name == name
        )

    def injected(self, *positions: Position) -> None:
        with self.lock:
            self.poison.update(positions)


class NotInjected(RuntimeError):
    """The harness could not bring a fault about (a part it needed was not there, or never
    answered): the harness's failure, reported apart from the pipeline's verdict, and the kind
    is tried again later in the run."""


# What a check may meet while the pipeline is busy recovering (a broker restarting, Postgres in
# crash recovery, Connect's REST API not up yet): "not yet", not an answer.
TRANSIENT: tuple[type[BaseException], ...] = (
    OSError,
    KafkaError,
    psycopg.OperationalError,
    Unreachable,
)


def wait_until(
    check: Callable[[], bool],
    timeout: float = 180,
    what: str = "the pipeline to recover",
    failure: type[Exception] = TimeoutError,
) -> None:
    """Poll ``check`` until it holds; a transient error counts as not yet. Past ``timeout``,
    raise ``failure`` saying what was awaited and the last error met."""
    deadline = time.monotonic() + timeout
    last: BaseException | None = None
    while True:
        try:
            if check():
                return
            last = None
        except TRANSIENT as exc:
            last = exc
        if time.monotonic() > deadline:
            seen = f" (last: {last!r})" if last is not None else ""
            raise failure(f"waited {timeout:.0f}s for {what}{seen}")
        time.sleep(0.3)


def healthy(ctx: Context) -> bool:
    # In the HA topology the REST call itself passes a dead worker over (stack.rest).
    single = ctx.settings.stack_topology == "single"
    st = (
        connect.status(ctx.settings.connect_rest(), "orders-outbox")
        if not single or _up(ctx, "connect")
        else None
    )
    return (
        st is not None
        and st.running
        and groups_probe(ctx.settings.kafka_as("tools"), lambda: GROUPS)() is None
        and ctx.part("api").probe() is None
    )


def _up(ctx: Context, name: str) -> bool:
    return ctx.part(name).probe() is None


def until_consumed(ctx: Context, hook: Path, timeout: float = 120) -> None:
    """Wait for a consumer to take the fault hook's file, placing an order now and then so
    that there is something to handle once the clients are done."""
    deadline = time.monotonic() + timeout
    while hook.exists():
        if time.monotonic() > deadline:
            hook.unlink(missing_ok=True)
            raise NotInjected(f"no consumer took {hook.name} in {timeout:.0f}s")
        ctx.nudge()
        time.sleep(2)


def recovered(ctx: Context, started: float) -> float:
    wait_until(lambda: healthy(ctx))
    return time.monotonic() - started


def kill_connect(ctx: Context) -> float:
    started = time.monotonic()
    pid = read_pid(ctx.layout.pid_file("connect"))
    if pid is None:
        raise NotInjected("connect is not running")
    os.killpg(pid, signal.SIGKILL)
    wait_until(lambda: ctx.part("connect").pid() is None, 30, "connect to die", NotInjected)
    ctx.part("connect").up()  # the connector's config lives in Kafka: it resumes by itself
    return recovered(ctx, started)


def restart_kafka(ctx: Context) -> float:
    started = time.monotonic()
    kafka = ctx.part("kafka")
    kafka.halt()
    time.sleep(2)
    kafka.up()
    return recovered(ctx, started)


def restart_postgres(ctx: Context) -> float:
    started = time.monotonic()
    postgres.stop(ctx.layout)
    time.sleep(3)
    postgres.start(ctx.layout, ctx.settings)
    return recovered(ctx, started)


def kill_consumer_in_gap(ctx: Context) -> float:
    """The next instance to commit its database transaction SIGKILLs itself before its offset
    commit; its supervisor starts it again."""
    started = time.monotonic()
    ctx.fault_file.touch()
    until_consumed(ctx, ctx.fault_file)
    time.sleep(1)
    return recovered(ctx, started)


def pause_connector(ctx: Context) -> float:
    started = time.monotonic()
    rest, path = ctx.settings.connect_rest(), "/connectors/orders-outbox"
    rest.call(f"{path}/pause", method="PUT")
    time.sleep(3)
    rest.call(f"{path}/resume", method="PUT")
    return recovered(ctx, started)


def rebalance(ctx: Context) -> float:
    """An extra instance joins a group for a while, then leaves: two rebalances."""
    started = time.monotonic()
    extra = subprocess.Popen(
        [sys.executable, "-m", "consumers", "run", "notifications"],
        cwd=ctx.layout.root,
        # The group's running processes hold the metrics port; this one serves none.
        env={**os.environ, "CONSUMER_METRICS_PORT": "0"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(8)
    extra.terminate()
    extra.wait(30)
    return recovered(ctx, started)


def poison(ctx: Context) -> float:
    """Bytes that are not our events, on the order topic: every group must dead-letter them."""
    started = time.monotonic()
    producer = KafkaProducer(**ctx.settings.kafka_as("tools").client())
    for _ in range(3):
        meta = producer.send(
            ORDER_TOPIC,
            key=f"poison-{uuid.uuid4()}".encode(),
            value=b"\x00not an event",
            headers=[("event_type", b"OrderPlaced")],
        ).get(timeout=30)
        ctx.injected((ORDER_TOPIC, meta.partition, meta.offset))
    producer.close()
    return recovered(ctx, started)


POLITE: dict[str, Callable[[Context], float]] = {
    "kill -9 connect": kill_connect,
    "restart kafka": restart_kafka,
    "restart postgres": restart_postgres,
    "kill -9 consumer between commits": kill_consumer_in_gap,
    "pause/resume connector": pause_connector,
    "rebalance: an instance joins and leaves": rebalance,
    "poison messages": poison,
}
