"""``make chaos``: a workload through the API, faults at random moments, then the checker.

The API and consumers run as the launcher's processes (so they can be killed), the consumers
with the fault-injection files set and a group id of their own (so that network partitions
can find their packets: ``chaos.network``), for the run only: ``make up``'s consumers are
paused meanwhile and started again after it (``stack.pause``). Every fault in the list runs
at least once; between faults the workload keeps going. At the end the pipeline must settle
by itself, and the checker (``chaos.verdict``) compares sets with the ground truth: the
orders table, the clients' log and the poison the run injected.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from chaos import failover, faults, network, observe, workload
from chaos.checks import VIOLATIONS
from chaos.crash import CRASH
from chaos.faults import ORDER_TOPIC, POLITE
from chaos.quorum import FAILOVER
from chaos.report import Injection, Report
from chaos.verdict import judge
from chaos.windows import duplicates_by_kind
from contract.kafka_reads import end_offsets
from contract.topics import dlq_topic
from ops.lag import group_lag
from stack.layout import Layout
from stack.parts import Part, consumers_part
from stack.pause import paused
from stack.settings import StackSettings

FAULTS = {**POLITE, **CRASH}
# The HA topology's run (``make chaos TOPOLOGY=ha``): its failover kinds. The single topology's
# kinds name its one broker and worker (``kafka``, ``connect``), which the HA topology has not.
FAULTS_OF = {"single": FAULTS, "ha": FAILOVER}


def kinds(topology: str) -> dict[str, faults.Fault]:
    """The fault kinds a run on ``topology`` injects."""
    if topology not in FAULTS_OF:
        raise ValueError(f"no chaos kinds for topology {topology!r}; say one of {list(FAULTS_OF)}")
    return FAULTS_OF[topology]


# A kind the harness could not bring about is tried again later, up to this many times.
ATTEMPTS = 3


def _consumers_part(layout: Layout, settings: StackSettings, faults: dict[str, Path]) -> Part:
    """The consumers as ``make up`` runs them, with the fault-injection files armed
    (``consumers.cli.fault_hook``, ``overrun_hook``) and the partition group id."""
    env = {name: str(path) for name, path in faults.items()}
    return consumers_part(layout, settings, env=env, wrap=network.as_consumers)


def run(
    root: Path,
    *,
    orders: int,
    clients: int,
    fault_names: list[str],
    seed: int,
    pause: tuple[float, float],
    cancel_ratio: float = 0.15,
    spread: float = 0.0,
    hold: float = 15.0,
) -> Report:
    reason = network.available()
    if reason is not None:
        raise RuntimeError(f"chaos needs network partitions: {reason}")
    rng = random.Random(seed)
    layout, settings = Layout(root), StackSettings()
    kill, overrun = layout.run / "consumers.fault", layout.run / "consumers.overrun"
    armed = {"FAULT_KILL_FILE": kill, "FAULT_OVERRUN_FILE": overrun}
    ctx = faults.Context(
        layout, settings, kill, overrun, _consumers_part(layout, settings, armed), hold=hold
    )
    for f in (kill, overrun):
        f.unlink(missing_ok=True)
    network.install()
    try:
        if settings.stack_topology == "ha":
            ctx.overrides = failover.wrapped_brokers(ctx)
            failover.prepare(ctx)
        # The consumers run under the launcher with the hooks armed, for the run only.
        with paused(consumers_part(layout, settings), meanwhile=ctx.consumers):
            ctx.part("api").up()
            faults.wait_until(lambda: faults.healthy(ctx), 120)
            return _run(ctx, rng, orders, clients, fault_names, seed, pause, cancel_ratio, spread)
    finally:
        network.remove()


@dataclass(frozen=True)
class Before:
    """Where everything stood when the run began: what the checker compares against."""

    orders: list[Any]
    topic: dict[int, int]
    dead_letters: dict[str, dict[int, int]]
    log_offset: int

    @classmethod
    def take(cls, ctx: faults.Context) -> Before:
        bootstrap = ctx.settings.kafka_as("tools")
        with psycopg.connect(ctx.settings.admin_dsn(), autocommit=True) as conn:
            orders = [r[0] for r in conn.execute("SELECT id FROM orders.orders")]
        return cls(
            orders,
            end_offsets(bootstrap, ORDER_TOPIC, wait=0),
            {g: end_offsets(bootstrap, dlq_topic(g), wait=0) for g in faults.GROUPS},
            ctx.layout.log_file("consumers").stat().st_size,
        )


def _run(
    ctx: faults.Context,
    rng: random.Random,
    orders: int,
    clients: int,
    fault_names: list[str],
    seed: int,
    pause: tuple[float, float],
    cancel_ratio: float,
    spread: float,
) -> Report:
    before = Before.take(ctx)
    report, started = Report(requested=list(fault_names)), time.monotonic()
    table = kinds(ctx.settings.stack_topology)
    api = f"http://127.0.0.1:{ctx.settings.api_port}"
    client, run_id = workload.WorkloadLog(), uuid.uuid4().hex[:8]
    key = workload.api_key(run_id)
    ctx.nudge = workload.nudger(api, key, client, run_id, seed)
    worker = threading.Thread(
        target=workload.run,
        args=(api, key),
        kwargs={
            "orders": orders,
            "clients": clients,
            "cancel_ratio": cancel_ratio,
            "seed": seed,
            "log": client,
            "run_id": run_id,
            "spread": spread,
        },
    )
    worker.start()
    pending = list(fault_names)
    rng.shuffle(pending)
    while pending or (worker.is_alive() and fault_names):
        time.sleep(rng.uniform(*pause))
        name = pending.pop() if pending else rng.choice(fault_names)
        injection = attempt(table[name], ctx, name, time.monotonic() - started)
        if (
            injection.harness_error
            and sum(i.fault == name for i in report.injections) < ATTEMPTS - 1
        ):
            pending.insert(0, name)  # again, after the others
        report.injections.append(injection)
    worker.join()
    end_lsn = observe.wal_head(ctx.settings.admin_dsn())
    observe.settle(ctx, ctx.settings.admin_dsn(), end_lsn)
    _judge(ctx, report, before, client, end_lsn)
    report.seconds = time.monotonic() - started
    return report


def attempt(fault: faults.Fault, ctx: faults.Context, name: str, at: float) -> Injection:
    """One injection, its error classified by cause: the harness's (it could not bring the
    fault about) or the pipeline's (it did not recover)."""
    injection = Injection(name, at)
    try:
        injection.recovered_s = fault(ctx)
    except faults.NotInjected as exc:
        injection.harness_error = str(exc)
    except Exception as exc:
        injection.error = repr(exc)
    return injection


def _judge(
    ctx: faults.Context, report: Report, before: Before, client: workload.WorkloadLog, lsn: str
) -> None:
    dsn, bootstrap = ctx.settings.admin_dsn(), ctx.settings.kafka_as("tools")
    report.client_orders, report.client_retries = len(client.placed), client.retries
    report.client_gave_up = client.gave_up
    report.orders = observe.scalar(dsn, "SELECT count(*) FROM orders.orders")
    report.new_orders = report.orders - len(before.orders)
    report.violations = {name: observe.scalar(dsn, q) for name, q in VIOLATIONS.items()}
    # Every order a client was told about exists, once per key.
    known = list(client.placed.values())
    report.orders_told_but_missing = len(set(known)) - observe.scalar(
        dsn, "SELECT count(*) FROM orders.orders WHERE id = ANY(%s::uuid[])", known
    )
    report.keys_with_two_orders = len(known) - len(set(known))
    report.poison_injected = len(ctx.poison)
    messages = observe.messages_since(bootstrap, ORDER_TOPIC, before.topic)
    report.verdict = judge(
        dsn,
        before.orders,
        messages,
        {
            g: observe.messages_since(bootstrap, dlq_topic(g), before.dead_letters[g])
            for g in faults.GROUPS
        },
        ctx.poison,
    )
    if ctx.windows:
        report.duplicates_by_kind = duplicates_by_kind(_copies(messages), ctx.windows)
        for w in ctx.windows:
            report.notes.setdefault(w.kind, []).append(w.note)
    report.duplicates_absorbed = observe.absorbed(
        ctx.layout.log_file("consumers"), before.log_offset
    )
    report.final_lag = sum(r.lag for r in group_lag(bootstrap, faults.GROUPS))
    report.slot_behind_bytes = observe.slot_behind(dsn, lsn)


def _copies(messages: list[Any]) -> list[tuple[str, int, int]]:
    """(event id, partition, offset) of every message that carries an event id."""
    out = []
    for m in messages:
        ids = [v for k, v in m.headers or () if k == "id"]
        if ids:
            out.append(((ids[0] or b"").decode(), m.partition, m.offset))
    return out
