"""A writer that is not the bottleneck: PostgreSQL's own ``pgbench`` placing orders.

Each pgbench transaction inserts one order, its lines and its outbox row (then deletes the
row, as the app does) and commits: the same rows and the same commit as the service layer,
without Python in the loop. The Avro payloads are encoded beforehand by the producer's own
domain and serializer, one per planned order with its own ids (``bench_load.plan``), and
each transaction takes the next plan row by a sequence, so every event is valid, unique and
matches its order row: the consumers handle them as real orders and ``make reconcile`` stays
clean. pgbench runs in its own process with its own connections (``-M prepared``), at a
fixed ``--rate`` or flat out.
"""

from __future__ import annotations

import os
import random
import re
import subprocess
import tempfile
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from psycopg import sql

from contract import AvroCodec, SchemaRepository
from producer_app.adapters.avro_events import EventSerializer
from producer_app.domain.model import Order, OrderLine
from producer_app.entrypoints.seed import CATALOG
from producer_app.settings import ProducerSettings
from stack.postgres import find_bin_dir
from stack.settings import StackSettings

SCHEMA = "bench_load"
SCRIPT = """\
SELECT nextval('bench_load.seq') AS n \\gset
BEGIN;
INSERT INTO orders.orders (id, customer_id, currency, status, total_cents, sales_channel,
    placed_at, event_ids_derived)
  SELECT order_id, customer_id, currency, 'placed', total_cents, 'web', placed_at, true
  FROM bench_load.plan WHERE n = :n;
INSERT INTO orders.order_lines (order_id, line_no, sku, quantity, unit_price_cents)
  SELECT p.order_id, l.line_no, l.sku, l.quantity, l.unit_price_cents
  FROM bench_load.plan p JOIN bench_load.plan_lines l USING (n) WHERE p.n = :n;
INSERT INTO orders.outbox (id, aggregate_type, aggregate_id, event_type, schema_version, payload)
  SELECT event_id, 'order', order_id::text, 'OrderPlaced', schema_version, payload
  FROM bench_load.plan WHERE n = :n;
DELETE FROM orders.outbox WHERE id = (SELECT event_id FROM bench_load.plan WHERE n = :n);
COMMIT;
"""


@dataclass(frozen=True)
class Run:
    transactions: int
    seconds: float
    tps: float
    order_ids: list[uuid.UUID]  # the orders this run committed, in plan order
    cpu_seconds: float = 0.0  # of what ``run(cpu_seconds=...)`` reads, while pgbench ran
    pgbench_cpu_seconds: float = 0.0  # pgbench's own (wait4), no other child's


def plan(stack: StackSettings, app: ProducerSettings, orders: int, seed: int = 7) -> None:
    """(Re)create ``bench_load`` with ``orders`` planned orders, payloads encoded by the
    producer's serializer, readable (and the sequence usable) by the app's role."""
    rng = random.Random(seed)
    serializer = EventSerializer(AvroCodec(SchemaRepository.load()))
    now = datetime.now(UTC)
    plans, lines = [], []
    for n in range(1, orders + 1):
        skus = rng.sample(sorted(CATALOG), k=rng.randint(1, 3))
        order = Order.place(
            order_id=uuid.uuid4(),
            customer_id=f"cust-{rng.randint(1, 5_000):05d}",
            currency="EUR",
            lines=tuple(OrderLine(s, rng.randint(1, 3), CATALOG[s]) for s in skus),
            now=now,
        )
        [event] = order.events
        writer, payload = serializer.serialize(event)
        ids = (n, order.id, event.event_id, order.customer_id)
        plans.append((*ids, order.total_cents, now, writer.version, payload))
        lines += [
            (n, i, li.sku, li.quantity, li.unit_price_cents)
            for i, li in enumerate(order.lines, start=1)
        ]
    role = sql.Identifier(stack.app_db_user)
    with psycopg.connect(stack.admin_dsn(app.postgres_db), autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
        conn.execute(f"CREATE SCHEMA {SCHEMA}")
        conn.execute(f"""CREATE TABLE {SCHEMA}.plan (
            n bigint PRIMARY KEY, order_id uuid, event_id uuid, customer_id text,
            currency text DEFAULT 'EUR', total_cents bigint, placed_at timestamptz,
            schema_version integer, payload bytea)""")
        conn.execute(f"""CREATE TABLE {SCHEMA}.plan_lines (
            n bigint, line_no int, sku text, quantity int, unit_price_cents bigint,
            PRIMARY KEY (n, line_no))""")
        conn.execute(f"CREATE SEQUENCE {SCHEMA}.seq")
        with conn.cursor() as cur:
            columns = "n, order_id, event_id, customer_id, total_cents, placed_at, "
            with cur.copy(
                f"COPY {SCHEMA}.plan ({columns} schema_version, payload) FROM STDIN"
            ) as copy:
                for row in plans:
                    copy.write_row(row)
            with cur.copy(f"COPY {SCHEMA}.plan_lines FROM STDIN") as copy:
                for line in lines:
                    copy.write_row(line)
        conn.execute(f"ANALYZE {SCHEMA}.plan")
        conn.execute(f"ANALYZE {SCHEMA}.plan_lines")
        conn.execute(sql.SQL("GRANT USAGE ON SCHEMA bench_load TO {}").format(role))
        conn.execute(sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA bench_load TO {}").format(role))
        conn.execute(sql.SQL("GRANT USAGE ON SEQUENCE bench_load.seq TO {}").format(role))


def drop(stack: StackSettings, app: ProducerSettings) -> None:
    with psycopg.connect(stack.admin_dsn(app.postgres_db), autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")


def run(
    app: ProducerSettings,
    *,
    seconds: float,
    clients: int = 4,
    rate: float | None = None,
    stack: StackSettings,
    cpu_seconds: Callable[[], float] | None = None,
) -> Run:
    """pgbench for ``seconds`` with ``clients`` connections (its own process, two threads),
    at ``rate`` transactions/s or flat out; the plan must hold enough orders. ``cpu_seconds``:
    a cumulative CPU reading, taken just around pgbench (``Run.cpu_seconds``)."""
    with psycopg.connect(stack.admin_dsn(app.postgres_db), autocommit=True) as conn:
        row = conn.execute("SELECT last_value, is_called FROM bench_load.seq").fetchone()
        assert row is not None
        first = row[0] + 1 if row[1] else 1
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as f:
        f.write(SCRIPT)
    argv = [str(find_bin_dir() / "pgbench"), "-n", "-M", "prepared", "-f", f.name]
    argv += ["-c", str(clients), "-j", str(min(2, clients)), "-T", str(max(1, round(seconds)))]
    if rate:
        argv += ["-R", f"{rate:g}"]
    argv += ["-h", app.postgres_host, "-p", str(app.postgres_port), "-U", app.app_db_user]
    argv += [app.postgres_db]
    env = {**os.environ, "PGPASSWORD": app.app_db_password.get_secret_value()}
    cpu_before = cpu_seconds() if cpu_seconds else 0.0
    try:
        stdout, stderr, code, own_cpu = _run_measured(argv, env, timeout=seconds + 120)
    finally:
        Path(f.name).unlink()
    cpu_used = cpu_seconds() - cpu_before if cpu_seconds else 0.0
    if code != 0:
        raise RuntimeError(f"pgbench failed: {stderr[-2000:]}")
    processed = int(_field(stdout, r"number of transactions actually processed: (\d+)"))
    tps = float(_field(stdout, r"tps = ([0-9.]+)"))
    with psycopg.connect(stack.admin_dsn(app.postgres_db), autocommit=True) as conn:
        ids = [
            r[0]
            for r in conn.execute(
                "SELECT p.order_id FROM bench_load.plan p JOIN orders.orders o ON o.id = "
                "p.order_id WHERE p.n >= %s ORDER BY p.n",
                (first,),
            )
        ]
    return Run(processed, seconds, tps, ids, cpu_used, own_cpu)


def _run_measured(
    argv: list[str], env: dict[str, str], timeout: float
) -> tuple[str, str, int, float]:
    """Run pgbench; (stdout, stderr, exit code, its own CPU seconds). The CPU comes from
    ``wait4`` on its pid: the children times of this process would also take in any other
    child reaped meanwhile (a consumers part this benchmark restarted and stopped, whose whole
    life's CPU landed in one pgbench run)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(argv, stdout=out, stderr=err, env=env)
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        out.seek(0)
        err.seek(0)
        return (
            out.read().decode(),
            err.read().decode(),
            proc.returncode,
            usage.ru_utime + usage.ru_stime,
        )


def _field(text: str, pattern: str) -> str:
    found = re.search(pattern, text)
    if found is None:
        raise RuntimeError(f"pgbench output without {pattern!r}: {text[-1500:]}")
    return found.group(1)
