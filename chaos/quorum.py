"""The failover kinds that touch more than one node (two brokers down, a rolling restart of
everything) and ``FAILOVER``, the HA topology's fault kinds (``make chaos TOPOLOGY=ha``).

Two brokers down of three: the KRaft quorum and ``min.insync.replicas=2`` are both lost, so no
write may be acknowledged. The harness checks it by the replication slot: a few seconds after
the kill (for the offsets of writes acknowledged before it to be committed), the slot's
confirmed position must not move for the rest of the hold while orders go on being committed
(Debezium confirms only what Kafka acknowledged); what Connect's producers logged meanwhile
(NOT_ENOUGH_REPLICAS, timeouts) is written down. Then both start again and everything held
back must be delivered (the checker's sets).

With combined nodes that kind cannot show the refusal ``min.insync.replicas`` promises: a leader
shrinks its ISR only through the controller, and two nodes down took the quorum with them, so
Connect's producer is left unanswered, not refused. ``isr_below_minimum`` shows the refusal
with the quorum standing: the leader's followers cannot fetch from it, it shrinks its
partitions' ISR to itself, and each ``acks=all`` write to them is answered NOT_ENOUGH_REPLICAS
(Connect's task producer retries it for ever: ``delivery.timeout.ms`` is Integer.MAX_VALUE,
Connect's own default, so an outage of any length loses nothing)."""

from __future__ import annotations

import time
from contextlib import ExitStack

from chaos import network, observe
from chaos.crash import sigkill
from chaos.failover import (
    cluster,
    controller,
    kill_broker,
    kill_task_worker,
    leader,
    partition_broker,
    stop_broker,
    windowed,
    writes_flow,
)
from chaos.faults import ORDER_TOPIC, Context, Fault, NotInjected, wait_until
from chaos.windows import REFUSED, UNANSWERED, mentions

# Seconds after the kill for what Kafka acknowledged before it to reach the slot (Connect
# commits offsets every second: offset.flush.interval.ms).
SETTLE_S = 4.0


def confirmed(dsn: str) -> int:
    """The slot's confirmed position, in bytes from the start of the WAL."""
    return observe.scalar(
        dsn,
        "SELECT pg_wal_lsn_diff(confirmed_flush_lsn, '0/0')::bigint FROM pg_replication_slots "
        "WHERE slot_name = 'outbox_slot'",
    )


def _log_sizes(ctx: Context) -> dict[str, int]:
    logs = {w.name: ctx.layout.log_file(w.name) for w in ctx.settings.topology.workers}
    return {name: f.stat().st_size if f.exists() else 0 for name, f in logs.items()}


def _logged_since(ctx: Context, sizes: dict[str, int]) -> str:
    text = []
    for name, size in sizes.items():
        with open(ctx.layout.log_file(name), "rb") as fh:
            fh.seek(size)
            text.append(fh.read().decode(errors="replace"))
    return "\n".join(text)


def two_brokers_down(ctx: Context) -> float:
    """kill -9 of the event topic's leader and one more broker; writes must stop, then both
    start again and the seconds from their restart until writes flow are returned."""
    first = leader(ctx)
    second = next(b for b in ctx.settings.topology.brokers if b != first)
    dsn, sizes = ctx.settings.admin_dsn(), _log_sizes(ctx)
    try:
        sigkill(ctx, first.name)
        sigkill(ctx, second.name)
        time.sleep(SETTLE_S)
        held, head = confirmed(dsn), observe.wal_head(dsn)
        deadline = time.monotonic() + max(ctx.hold - SETTLE_S, 5.0)
        while time.monotonic() < deadline:
            ctx.nudge()  # something to refuse, whether or not the clients are still writing
            time.sleep(1)
        moved = confirmed(dsn) - held
        behind = observe.slot_behind(dsn, head)
        down, sizes = _logged_since(ctx, sizes), _log_sizes(ctx)
    finally:
        restarted = time.monotonic()
        for b in (first, second):
            ctx.part(b.name).launch()  # together: alone, one node has no quorum
        for b in (first, second):
            ctx.part(b.name).wait()
    lsn = observe.wal_head(dsn)
    wait_until(lambda: writes_flow(ctx, lsn), 300, "writes to flow again")
    seconds, back = time.monotonic() - restarted, _logged_since(ctx, sizes)
    ctx.note = (
        f"{first.name}+{second.name}; slot moved {moved} bytes while down "
        f"({behind} behind the WAL); Connect's producers logged NOT_ENOUGH_REPLICAS / timeouts "
        f"{mentions(down, REFUSED)} / {mentions(down, UNANSWERED)} while down, "
        f"{mentions(back, REFUSED)} / {mentions(back, UNANSWERED)} from the restart until "
        "writes flowed"
    )
    if moved > 0:
        raise AssertionError(f"writes acknowledged with two brokers of three down: {ctx.note}")
    return seconds


def isr_below_minimum(ctx: Context) -> float:
    """The event topic's leader unfollowed (``network.unfollowed_rules``) until the partitions
    it leads have an ISR below ``min.insync.replicas``; held while orders go on being
    committed, the slot must not move and Connect's producer must log NOT_ENOUGH_REPLICAS.
    Returns the seconds from the lift until writes flow (the followers catch up)."""
    b = leader(ctx)
    ports = {n.node_id: n.port for n in ctx.settings.topology.brokers}
    dsn, sizes = ctx.settings.admin_dsn(), _log_sizes(ctx)
    with ExitStack() as cut:
        cut.enter_context(network.dropping(network.unfollowed_rules(b.node_id, ports)))
        # replica.lag.time.max.ms (30 s, Kafka's default) passes before the leader shrinks.
        wait_until(lambda: _refusing(ctx), 120, f"{ORDER_TOPIC} under min.insync", NotInjected)
        time.sleep(SETTLE_S)
        held, head = confirmed(dsn), observe.wal_head(dsn)
        deadline = time.monotonic() + max(ctx.hold, 10.0)
        while time.monotonic() < deadline:
            ctx.nudge()
            time.sleep(1)
        moved, behind = confirmed(dsn) - held, observe.slot_behind(dsn, head)
        down = _logged_since(ctx, sizes)
    lifted, lsn = time.monotonic(), observe.wal_head(dsn)
    wait_until(lambda: writes_flow(ctx, lsn), 300, "writes to flow again")
    refused = mentions(down, REFUSED)
    ctx.note = (
        f"{b.name} unfollowed; slot moved {moved} bytes while refused ({behind} behind the "
        f"WAL); Connect's producers logged NOT_ENOUGH_REPLICAS {refused} times"
    )
    if moved > 0 or refused == 0:
        raise AssertionError(f"ISR below min.insync.replicas: {ctx.note}")
    return time.monotonic() - lifted


def _refusing(ctx: Context) -> bool:
    return any(n.startswith(f"{ORDER_TOPIC}-") for n in cluster(ctx).under_min_isr)


def rolling_restart(ctx: Context) -> float:
    """Every broker, then every worker, stopped and started one at a time (each broker back in
    sync before the next); the seconds from the first stop until writes flow after the last."""
    started, topology = time.monotonic(), ctx.settings.topology
    ctx.note = ", ".join([b.name for b in topology.brokers] + [w.name for w in topology.workers])
    for b in topology.brokers:
        part = ctx.part(b.name)
        part.halt()
        part.up()
        wait_until(lambda: _in_sync(ctx), 300, f"every partition in sync after {b.name}")
    for w in topology.workers:
        part = ctx.part(w.name)
        part.halt()
        part.up()
    lsn = observe.wal_head(ctx.settings.admin_dsn())
    wait_until(lambda: writes_flow(ctx, lsn), 300, "writes to flow again")
    return time.monotonic() - started


def _in_sync(ctx: Context) -> bool:
    view = cluster(ctx)
    return all(b["state"] == "up" for b in view.brokers) and not view.under_replicated


FAILOVER: dict[str, Fault] = {
    name: windowed(name, fault)
    for name, fault in {
        "kill -9 of the event topic's leader broker": kill_broker(leader),
        "kill -9 of the active KRaft controller": kill_broker(controller),
        "kill -9 of the Connect worker running the task": kill_task_worker,
        "SIGSTOP of the leader broker past its session timeout": stop_broker,
        "the leader broker partitioned from the other two": partition_broker,
        "two brokers down: writes stop and nothing is lost": two_brokers_down,
        "ISR below min.insync.replicas: writes refused then delivered": isr_below_minimum,
        "rolling restart of every broker and worker": rolling_restart,
    }.items()
}
