"""``make chaos``: a workload through the API, faults at random moments, then the checker.

The API and consumers run as the launcher's processes (so they can be killed), the consumers
with the fault-injection file set. Every fault in the list runs at least once; between faults
the workload keeps going. At the end the pipeline must settle by itself, and the checker
compares the final state with the ground truth (the orders table and the clients' log).
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from kafka import KafkaConsumer, TopicPartition

from chaos import faults, workload
from chaos.checks import EVENTS, PROCESSED, VIOLATIONS
from ops.lag import group_lag
from stack.layout import Layout
from stack.settings import StackSettings

ORDER_TOPIC = "outbox.event.order"


@dataclass
class Injection:
    fault: str
    at_s: float
    recovered_s: float | None = None
    error: str | None = None


@dataclass
class Report:
    orders: int = 0
    new_orders: int = 0
    events: int = 0
    injections: list[Injection] = field(default_factory=list)
    violations: dict[str, int] = field(default_factory=dict)
    lost: int = 0
    double_effects: int = 0
    duplicate_messages_on_topic: int = 0
    duplicates_absorbed: int = 0
    poison_sent: int = 0
    dead_letters: dict[str, int] = field(default_factory=dict)
    unexpected_dead_letters: int = 0
    client_orders: int = 0
    client_retries: int = 0
    client_gave_up: int = 0
    keys_with_two_orders: int = 0
    final_lag: int = 0
    slot_behind_bytes: int = 0
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return (
            self.lost == 0
            and self.double_effects == 0
            and not any(self.violations.values())
            and self.unexpected_dead_letters == 0
            and all(n == self.poison_sent for n in self.dead_letters.values())
            and self.keys_with_two_orders == 0
            and self.final_lag == 0
            and self.slot_behind_bytes == 0
            and all(i.error is None for i in self.injections)
        )

    def markdown(self) -> str:
        rows = "\n".join(
            f"| {i.fault} | {i.at_s:.0f} s | "
            f"{'-' if i.recovered_s is None else f'{i.recovered_s:.1f} s'} | {i.error or 'ok'} |"
            for i in self.injections
        )
        return (
            "| fault | injected at | time to recover | result |\n| --- | ---: | ---: | --- |\n"
            f"{rows}\n\n| measure | value |\n| --- | ---: |\n"
            f"| orders committed in this run / in total | {self.new_orders:,} / {self.orders:,} |\n"
            f"| events in total | {self.events:,} |\n"
            f"| faults injected | {len(self.injections)} |\n"
            f"| duplicate messages on the topic (Debezium at-least-once) | "
            f"{self.duplicate_messages_on_topic:,} |\n"
            f"| duplicate deliveries absorbed by consumers (at least) | "
            f"{self.duplicates_absorbed:,} |\n"
            f"| lost (must be 0) | {self.lost} |\n"
            f"| double effects (must be 0) | {self.double_effects} |\n"
            f"| poison messages sent / dead-lettered per group | {self.poison_sent} / "
            f"{', '.join(f'{g} {n}' for g, n in sorted(self.dead_letters.items()))} |\n"
            f"| other dead letters (must be 0) | {self.unexpected_dead_letters} |\n"
            f"| client retries / gave up | {self.client_retries:,} / {self.client_gave_up} |\n"
            f"| Idempotency-Keys with two orders (must be 0) | {self.keys_with_two_orders} |\n"
            f"| final lag, all groups (must be 0) | {self.final_lag} |\n"
            f"| slot behind the WAL written by the run (must be 0) | "
            f"{self.slot_behind_bytes:,} bytes |\n"
            f"| run time | {self.seconds:.0f} s |\n"
            f"| **result** | **{'PASS' if self.passed else 'FAIL'}** |\n"
        )


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
) -> Report:
    rng = random.Random(seed)
    layout, settings = Layout(root), StackSettings()
    ctx = faults.Context(layout, settings, layout.run / "consumers.fault")
    ctx.fault_file.unlink(missing_ok=True)
    # The consumers run under the launcher with the fault-injection hook armed.
    os.environ["FAULT_KILL_FILE"] = str(ctx.fault_file)
    consumers = ctx.part("consumers")
    consumers.halt()
    for name in ("api", "consumers"):
        ctx.part(name).up()
    faults.wait_until(lambda: faults.healthy(ctx), 120)

    dsn = settings.admin_dsn()
    dlq_before = {
        g: _end_offsets(settings.kafka_bootstrap_servers, f"dlq.{g}") for g in faults.GROUPS
    }
    topic_before = _end_offsets(settings.kafka_bootstrap_servers, ORDER_TOPIC)
    log_start = layout.log_file("consumers").stat().st_size
    orders_before = _scalar(dsn, "SELECT count(*) FROM orders.orders")
    report, started = Report(), time.monotonic()
    api = f"http://127.0.0.1:{settings.api_port}"
    result: dict[str, workload.WorkloadLog] = {}
    worker = threading.Thread(
        target=lambda: result.setdefault(
            "log",
            workload.run(
                api,
                orders=orders,
                clients=clients,
                cancel_ratio=cancel_ratio,
                seed=seed,
                spread=spread,
            ),
        )
    )
    worker.start()
    pending = list(fault_names)
    rng.shuffle(pending)
    while pending or (worker.is_alive() and fault_names):
        time.sleep(rng.uniform(*pause))
        name = pending.pop() if pending else rng.choice(fault_names)
        injection = Injection(name, time.monotonic() - started)
        try:
            injection.recovered_s = faults.FAULTS[name](ctx)
        except Exception as exc:
            injection.error = repr(exc)
        report.injections.append(injection)
    worker.join()
    end_lsn = _wal_head(dsn)
    settle(ctx, dsn, end_lsn)

    client = result["log"]
    report.client_orders, report.client_retries = len(client.placed), client.retries
    report.client_gave_up = client.gave_up
    report.orders = _scalar(dsn, "SELECT count(*) FROM orders.orders")
    report.new_orders = report.orders - orders_before
    report.events = _scalar(dsn, EVENTS)
    report.violations = {name: _scalar(dsn, q) for name, q in VIOLATIONS.items()}
    processed = {g: _scalar(dsn, PROCESSED, g) for g in faults.GROUPS}
    report.lost = sum(max(0, report.events - n) for n in processed.values())
    report.double_effects = (
        report.violations["notifications"]
        + report.violations["sales projection"]
        + report.violations["reserved stock"]
    )
    # Every order a client was told about exists, once per key.
    known = list(client.placed.values())
    report.lost += len(known) - _scalar(
        dsn, "SELECT count(*) FROM orders.orders WHERE id = ANY(%s::uuid[])", known
    )
    report.keys_with_two_orders = len(known) - len(set(known))
    messages = _messages_since(settings.kafka_bootstrap_servers, ORDER_TOPIC, topic_before)
    ids = [dict(m.headers).get("id") for m in messages]
    real = [i for i in ids if i is not None]
    report.duplicate_messages_on_topic = len(real) - len(set(real))
    report.poison_sent = len(ctx.poison_keys)
    for group, before in dlq_before.items():
        dead = _messages_since(settings.kafka_bootstrap_servers, f"dlq.{group}", before)
        keys = [(m.key or b"").decode() for m in dead]
        report.dead_letters[group] = len(set(keys) & set(ctx.poison_keys))
        report.unexpected_dead_letters += len([k for k in keys if k not in ctx.poison_keys])
    report.duplicates_absorbed = _absorbed(layout.log_file("consumers"), log_start)
    report.final_lag = sum(
        r.lag for r in group_lag(settings.kafka_bootstrap_servers, faults.GROUPS)
    )
    report.slot_behind_bytes = _slot_behind(dsn, end_lsn)
    report.seconds = time.monotonic() - started
    return report
