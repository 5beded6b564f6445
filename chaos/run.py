"""``make chaos``: a workload through the API, faults at random moments, then the checker.

The API and consumers run as the launcher's processes (so they can be killed), the consumers
with the fault-injection files set and a group id of their own (so that network partitions
can find their packets: ``chaos.network``). Every fault in the list runs at least once;
between faults the workload keeps going. At the end the pipeline must settle by itself, and
the checker (``chaos.verdict``) compares sets with the ground truth: the orders table, the
clients' log and the poison the run injected.
"""

from __future__ import annotations

import json
import os
import random
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
from kafka import KafkaConsumer, TopicPartition

from chaos import faults, network, workload
from chaos.checks import EVENTS, PROCESSED, VIOLATIONS
from chaos.crash import CRASH
from chaos.faults import ORDER_TOPIC, POLITE
from chaos.report import Injection, Report
from chaos.verdict import judge
from contract.topics import dlq_topic
from ops.lag import group_lag
from stack.layout import Layout
from stack.parts import Part, app_parts, background_part
from stack.settings import StackSettings

FAULTS = {**POLITE, **CRASH}


def _end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    c = KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        parts = [TopicPartition(topic, p) for p in sorted(c.partitions_for_topic(topic) or ())]
        return {tp.partition: off for tp, off in c.end_offsets(parts).items()}
    finally:
        c.close()


def _messages_since(bootstrap: str, topic: str, since: dict[int, int]) -> list[Any]:
    c = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    parts = [TopicPartition(topic, p) for p in since]
    end = c.end_offsets(parts)
    c.assign(parts)
    for tp in parts:
        c.seek(tp, since[tp.partition])
    out: list[Any] = []
    deadline = time.monotonic() + 60
    while any(c.position(tp) < end[tp] for tp in parts) and time.monotonic() < deadline:
        for records in c.poll(timeout_ms=500).values():
            out += records
    c.close()
    return out


def _scalar(dsn: str, query: str, *params: Any) -> int:
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(query, params).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def _absorbed(log: Path, since: int) -> int:
    """Sum of each consumer process's last logged duplicate count since the run started."""
    last: dict[tuple[int, str], int] = {}
    with open(log, "rb") as fh:
        fh.seek(since)
        for line in fh:
            if b'"msg": "stats"' not in line:
                continue
            row = json.loads(line)
            last[(row.get("pid", 0), row.get("group", ""))] = int(row.get("duplicate", 0))
    return sum(last.values())


def settle(ctx: faults.Context, dsn: str, lsn: str, timeout: float = 300) -> None:
    """Wait until every group has processed every committed event and no group lags."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        expected = _scalar(dsn, EVENTS)
        if all(_scalar(dsn, PROCESSED, g) >= expected for g in faults.GROUPS):
            lag = sum(r.lag for r in group_lag(ctx.settings.kafka_bootstrap_servers, faults.GROUPS))
            if lag == 0 and _slot_behind(dsn, lsn) == 0:
                return
        time.sleep(1)
    raise TimeoutError("the pipeline did not settle")


def _wal_head(dsn: str) -> str:
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute("SELECT pg_current_wal_lsn()::text").fetchone()
    assert row is not None
    return str(row[0])


def _slot_behind(dsn: str, lsn: str) -> int:
    """Bytes of WAL up to ``lsn`` (the head when the clients finished) that the slot has not
    confirmed yet; 0 once it has. Measured against a fixed point: idle WAL written later
    (autovacuum after a load, checkpoints) is confirmed only at Debezium's next heartbeat."""
    return max(
        0,
        _scalar(
            dsn,
            "SELECT pg_wal_lsn_diff(%s::pg_lsn, confirmed_flush_lsn) "
            "FROM pg_replication_slots WHERE slot_name = 'outbox_slot'",
            lsn,
        ),
    )


def _consumers_part(ctx_layout: Layout, settings: StackSettings) -> Part:
    """The consumers as ``make up`` runs them, but with the partition group id."""
    [_, consumers] = app_parts(ctx_layout, settings)
    return background_part(
        ctx_layout,
        consumers.name,
        consumers.where,
        None,
        consumers.timeout,
        lambda: network.as_consumers([sys.executable, "-m", "consumers", "run-all"]),
        consumers.probe,
    )


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
    ctx = faults.Context(
        layout,
        settings,
        layout.run / "consumers.fault",
        layout.run / "consumers.overrun",
        _consumers_part(layout, settings),
        hold=hold,
    )
    for f in (ctx.fault_file, ctx.overrun_file):
        f.unlink(missing_ok=True)
    # The consumers run under the launcher with the fault-injection hooks armed.
    os.environ["FAULT_KILL_FILE"] = str(ctx.fault_file)
    os.environ["FAULT_OVERRUN_FILE"] = str(ctx.overrun_file)
    network.install()
    try:
        ctx.consumers.halt()
        for part in (ctx.part("api"), ctx.consumers):
            part.up()
        faults.wait_until(lambda: faults.healthy(ctx), 120)
        return _run(ctx, rng, orders, clients, fault_names, seed, pause, cancel_ratio, spread)
    finally:
        network.remove()


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
    settings, layout = ctx.settings, ctx.layout
    dsn = settings.admin_dsn()
    bootstrap = settings.kafka_bootstrap_servers
    dlq_before = {g: _end_offsets(bootstrap, dlq_topic(g)) for g in faults.GROUPS}
    topic_before = _end_offsets(bootstrap, ORDER_TOPIC)
    log_start = layout.log_file("consumers").stat().st_size
    with psycopg.connect(dsn, autocommit=True) as conn:
        orders_before = [r[0] for r in conn.execute("SELECT id FROM orders.orders")]
    report, started = Report(requested=list(fault_names)), time.monotonic()
    api = f"http://127.0.0.1:{settings.api_port}"
    client, run_id = workload.WorkloadLog(), uuid.uuid4().hex[:8]
    ctx.nudge = workload.nudger(api, client, run_id, seed)
    worker = threading.Thread(
        target=workload.run,
        args=(api,),
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
        injection = Injection(name, time.monotonic() - started)
        try:
            injection.recovered_s = FAULTS[name](ctx)
        except Exception as exc:
            injection.error = repr(exc)
        report.injections.append(injection)
    worker.join()
    end_lsn = _wal_head(dsn)
    settle(ctx, dsn, end_lsn)

    report.client_orders, report.client_retries = len(client.placed), client.retries
    report.client_gave_up = client.gave_up
    report.orders = _scalar(dsn, "SELECT count(*) FROM orders.orders")
    report.new_orders = report.orders - len(orders_before)
    report.violations = {name: _scalar(dsn, q) for name, q in VIOLATIONS.items()}
    # Every order a client was told about exists, once per key.
    known = list(client.placed.values())
    report.orders_told_but_missing = len(set(known)) - _scalar(
        dsn, "SELECT count(*) FROM orders.orders WHERE id = ANY(%s::uuid[])", known
    )
    report.keys_with_two_orders = len(known) - len(set(known))
    report.poison_injected = len(ctx.poison)
    report.verdict = judge(
        dsn,
        orders_before,
        _messages_since(bootstrap, ORDER_TOPIC, topic_before),
        {g: _messages_since(bootstrap, dlq_topic(g), dlq_before[g]) for g in faults.GROUPS},
        ctx.poison,
    )
    report.duplicates_absorbed = _absorbed(layout.log_file("consumers"), log_start)
    report.final_lag = sum(r.lag for r in group_lag(bootstrap, faults.GROUPS))
    report.slot_behind_bytes = _slot_behind(dsn, end_lsn)
    report.seconds = time.monotonic() - started
    return report
