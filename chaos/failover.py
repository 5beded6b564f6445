"""Failover faults of the HA topology (``make chaos TOPOLOGY=ha``): a node of the Kafka cluster
or a Connect worker lost under load, then brought back by the harness.

Each kind waits (bounded) for a whole cluster first: every broker up, no partition under-
replicated or offline, the task running; else the harness could not inject it
(``NotInjected``). It then returns its **recovery time**: the seconds from the injection until
the task runs and writes flow again, that is until the replication slot confirmed the WAL
written just after the injection (Debezium confirms a position only once Connect committed the
offsets of every record before it, which it does only once Kafka acknowledged them with
``acks=all``: every event committed by then is on the topic), measured while the part is
still down where it stays down. Afterwards the harness restarts what it killed and waits for a
whole cluster again (the pipeline's failure if it does not come); the event topic's end
offsets when it began open the kind's window (``chaos.windows``): the checker attributes a
duplicate it finds on the topic to the last kind injected before it was written.
"""

from __future__ import annotations

import os
import signal
import time
import urllib.request
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

from chaos import network, observe
from chaos.crash import sigkill
from chaos.faults import ORDER_TOPIC, Context, Fault, NotInjected, healthy, wait_until
from chaos.windows import Window, active_controller, most_led
from contract.kafka_reads import end_offsets
from ops.cluster import ClusterView, assess
from ops.kafka_io import admin
from stack import connect
from stack.parts import Part, kafka_parts
from stack.topology import Broker

# broker.session.timeout.ms: Kafka's default, which server.properties leaves as it is (a unit
# test holds it to that): a broker silent this long is fenced by the controller.
BROKER_SESSION_TIMEOUT_S = 9.0
WHOLE = "every broker up, every partition fully replicated and the task running"


def wrapped_brokers(ctx: Context) -> dict[str, Part]:
    """The brokers as this run starts them: each under its own group id, so that a partition
    can find its connections (``chaos.network.isolated``)."""
    parts = kafka_parts(ctx.layout, ctx.settings, lambda b, cmd: network.as_broker(b.node_id, cmd))
    return {p.name: p for p in parts}


def prepare(ctx: Context) -> None:
    """Restart, one at a time, each broker not yet running under its group id (``make up``
    starts them without one); a broker a former run left so is kept."""
    for b in ctx.settings.topology.brokers:
        part = ctx.part(b.name)
        pid = part.pid()
        if pid is not None and _gid(pid) == network.BROKER_GID + b.node_id:
            continue
        part.halt()
        part.up()
        wait_until(lambda: _whole(ctx), 300, WHOLE, NotInjected)


def _gid(pid: int) -> int | None:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Gid:"):
            return int(line.split()[1])
    return None


def cluster(ctx: Context) -> ClusterView:
    topology = ctx.settings.topology
    with admin(ctx.settings.kafka_as("admin")) as a:
        return assess(
            [(b.node_id, b.address) for b in topology.brokers],
            a.describe_cluster(),
            a.describe_topics(),
            topology.min_insync_replicas,
        )


def _whole(ctx: Context) -> bool:
    view = cluster(ctx)
    return (
        all(b["state"] == "up" for b in view.brokers)
        and not view.under_replicated
        and not view.offline
        and healthy(ctx)
    )


def windowed(kind: str, fault: Fault) -> Fault:
    """``fault`` between two whole clusters, its window written down in ``ctx.windows``."""

    def run(ctx: Context) -> float:
        wait_until(lambda: _whole(ctx), 240, WHOLE, NotInjected)
        before = end_offsets(ctx.settings.kafka_as("tools"), ORDER_TOPIC, wait=0)
        ctx.note = ""
        seconds = fault(ctx)
        ctx.windows.append(Window(kind, before, ctx.note))
        wait_until(lambda: _whole(ctx), 300, f"{WHOLE} after {kind}")
        return seconds

    return run


def writes_flow(ctx: Context, lsn: str) -> bool:
    """The task runs and the slot confirmed ``lsn``; if not yet, one more order (an idle
    pipeline confirms only at Debezium's next heartbeat)."""
    if healthy(ctx) and observe.slot_behind(ctx.settings.admin_dsn(), lsn) == 0:
        return True
    ctx.nudge()
    return False


def outage(
    ctx: Context, inject: Callable[[], object], lift: Callable[[], object], hold: float
) -> float:
    """Inject, watch for writes to flow again while the fault is held, lift it; the seconds
    from injecting until writes flowed (after the lift if they never did before it)."""
    started = time.monotonic()
    inject()
    lsn, flowed = observe.wal_head(ctx.settings.admin_dsn()), None
    try:
        while time.monotonic() - started < hold:
            if flowed is None and writes_flow(ctx, lsn):
                flowed = time.monotonic()
            time.sleep(0.5)
    finally:
        lift()
    if flowed is None:
        wait_until(lambda: writes_flow(ctx, lsn), 300, "writes to flow again")
        flowed = time.monotonic()
    return flowed - started


def leader(ctx: Context) -> Broker:
    with admin(ctx.settings.kafka_as("admin")) as a:
        node = most_led(a.describe_topics([ORDER_TOPIC]))
    if node is None:
        raise NotInjected(f"no partition of {ORDER_TOPIC} has a leader")
    return ctx.settings.topology.broker(node)


def controller(ctx: Context) -> Broker:
    """The active KRaft controller, as each node's exporter tells (ActiveControllerCount)."""

    def scrape(b: Broker) -> str:
        url = f"http://127.0.0.1:{b.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as r:
            body: bytes = r.read()
            return body.decode()

    found: list[int] = []

    def one() -> bool:
        node = active_controller({b.node_id: scrape(b) for b in ctx.settings.topology.brokers})
        found[:] = [] if node is None else [node]
        return bool(found)

    wait_until(one, 60, "exactly one active controller", NotInjected)
    return ctx.settings.topology.broker(found[0])


def kill_broker(who: Callable[[Context], Broker]) -> Fault:
    """kill -9 of the broker ``who`` names, kept down for ``ctx.hold`` (past its session
    timeout: the controller fences it and elects other leaders), then started again."""

    def fault(ctx: Context) -> float:
        b = who(ctx)
        ctx.note = f"{b.name}"
        return outage(ctx, lambda: sigkill(ctx, b.name), lambda: ctx.part(b.name).up(), ctx.hold)

    return fault


def kill_task_worker(ctx: Context) -> float:
    """kill -9 of the worker running the task: it stays down until the task runs on the other
    worker (scheduled.rebalance.max.delay.ms, 5 s here) and writes flow, then starts again."""
    rest = ctx.settings.connect_rest()
    st = connect.status(rest, "orders-outbox")
    on = st.workers[0] if st is not None and st.workers else None
    worker = next((w for w in ctx.settings.topology.workers if on == f"{w.host}:{w.port}"), None)
    if worker is None:
        raise NotInjected(f"no worker of the topology runs the task (status: {st})")
    ctx.note = worker.name
    started = time.monotonic()
    sigkill(ctx, worker.name)
    lsn = observe.wal_head(ctx.settings.admin_dsn())

    def moved() -> bool:
        now = connect.status(rest, "orders-outbox")
        return now is not None and now.running and on not in now.workers

    try:
        wait_until(moved, 180, "the task to run on the other worker")
        wait_until(lambda: writes_flow(ctx, lsn), 300, "writes to flow again")
        return time.monotonic() - started
    finally:
        ctx.part(worker.name).up()


def stop_broker(ctx: Context) -> float:
    """SIGSTOP of the event topic's leader past broker.session.timeout.ms, then SIGCONT: it is
    fenced, its partitions move, and when it wakes it must rejoin without harm."""
    b = leader(ctx)
    pid = ctx.part(b.name).pid()
    if pid is None:
        raise NotInjected(f"{b.name} is not running")
    ctx.note = b.name
    return outage(
        ctx,
        lambda: os.killpg(pid, signal.SIGSTOP),
        lambda: os.killpg(pid, signal.SIGCONT),
        max(ctx.hold, BROKER_SESSION_TIMEOUT_S + 6),
    )


def partition_broker(ctx: Context) -> float:
    """The event topic's leader cut off from the other two brokers (not from the clients)."""
    b = leader(ctx)
    ports = {n.node_id: [n.port, n.controller_port] for n in ctx.settings.topology.brokers}
    ctx.note = b.name
    with ExitStack() as stack:
        return outage(
            ctx,
            lambda: stack.enter_context(network.isolated(b.node_id, ports)),
            stack.close,
            max(ctx.hold, BROKER_SESSION_TIMEOUT_S + 6),
        )
