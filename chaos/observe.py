"""What the chaos run reads from Kafka, Postgres and the consumers' log to judge a run: the
messages written since the end offsets it took (``contract.kafka_reads``), counts, the WAL
position and the slot's progress."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import psycopg
from kafka import KafkaConsumer, TopicPartition

from chaos import faults
from chaos.checks import EVENTS, PROCESSED
from contract.kafka import KafkaAccess
from ops.lag import group_lag


def messages_since(
    bootstrap: KafkaAccess, topic: str, since: dict[int, int], *, committed: bool = False
) -> list[Any]:
    """Every record of ``topic`` from ``since`` (partition -> offset) to its end now; only
    what transactions committed, as the consumers read, when ``committed``."""
    level = "read_committed" if committed else "read_uncommitted"
    c = KafkaConsumer(**bootstrap.client(enable_auto_commit=False, isolation_level=level))
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


def scalar(dsn: str, query: str, *params: Any) -> int:
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(query, params).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def absorbed(log: Path, since: int) -> int:
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
        expected = scalar(dsn, EVENTS)
        if all(scalar(dsn, PROCESSED, g) >= expected for g in faults.GROUPS):
            lag = sum(r.lag for r in group_lag(ctx.settings.kafka_as("tools"), faults.GROUPS))
            if lag == 0 and slot_behind(dsn, lsn) == 0:
                return
        time.sleep(1)
    raise TimeoutError("the pipeline did not settle")


def wal_head(dsn: str) -> str:
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute("SELECT pg_current_wal_lsn()::text").fetchone()
    assert row is not None
    return str(row[0])


def slot_behind(dsn: str, lsn: str) -> int:
    """Bytes of WAL up to ``lsn`` (the head when the clients finished) that the slot has not
    confirmed yet; 0 once it has. Measured against a fixed point: idle WAL written later
    (autovacuum after a load, checkpoints) is confirmed only at Debezium's next heartbeat."""
    return max(
        0,
        scalar(
            dsn,
            "SELECT pg_wal_lsn_diff(%s::pg_lsn, confirmed_flush_lsn) "
            "FROM pg_replication_slots WHERE slot_name = 'outbox_slot'",
            lsn,
        ),
    )
