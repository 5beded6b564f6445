"""A schema change rolled out in either order, through the whole pipeline: ``OrderPlaced`` v3
written mid-stream by the producer (v2 before it), read by the stack's running consumers.

Producer first: consumers deployed without the v3 file pause each partition at its first v3
event (a metric, a log line, lag; nothing dead-lettered) and go on with the v2 events before
it; once they are deployed with the v3 file, every event is applied once and in order (a
cancelled v3 order is reversed, never "cancelled first"). Consumers first: nothing waits."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from consumers.handlers import REGISTRY
from contract.kafka_reads import end_offsets
from contract.schemas import DEFAULT_DIR
from contract.topics import dlq_topic
from ops.lag import group_lag
from stack.layout import Layout
from stack.parts import consumers_part
from stack.pause import paused
from stack.settings import StackSettings
from tests.conftest import ROOT
from tests.kafka_helpers import caught_up

pytestmark = pytest.mark.e2e

TOPIC = "outbox.event.order"
GROUPS = sorted(REGISTRY)


@pytest.fixture(scope="module")
def old_schemas(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The schema files of the release before v3: what an old deployable was built with."""
    root = tmp_path_factory.mktemp("schemas-before-v3")
    shutil.copytree(DEFAULT_DIR, root, dirs_exist_ok=True)
    (root / "order" / "OrderPlaced.v3.avsc").unlink()
    return root


@contextmanager
def consumers_deployed_with(settings: StackSettings, schemas: Path) -> Iterator[None]:
    """The stack's consumers restarted with these schema files (their environment names the
    directory), and restarted as ``make up`` runs them afterwards."""
    layout = Layout(ROOT)
    deployed = consumers_part(layout, settings, env={"SCHEMAS_DIR": str(schemas)})
    with paused(consumers_part(layout, settings), meanwhile=deployed):
        yield


def seed(orders: int, schemas: Path | None) -> datetime:
    """Place orders with a producer built with these schema files; returns when it began."""
    began = datetime.now(UTC)
    env = {k: v for k, v in os.environ.items() if k != "SCHEMAS_DIR"}
    if schemas is not None:
        env["SCHEMAS_DIR"] = str(schemas)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "producer_app",
            "seed",
            "--orders",
            f"{orders}",
            "--cancel-ratio",
            ".3",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return began


def waiting(settings: StackSettings) -> dict[str, float]:
    """``outbox_consumer_partitions_waiting_for_schema`` per group, from the consumers' port."""
    url = f"http://127.0.0.1:{settings.consumer_metrics_port}/metrics"
    with urllib.request.urlopen(url, timeout=5) as answer:
        text = answer.read().decode()
    found: dict[str, float] = {}
    pattern = r'^outbox_consumer_partitions_waiting_for_schema\{group="([^"]+)"[^}]*\} (\S+)$'
    for group, value in re.findall(pattern, text, re.M):
        found[group] = found.get(group, 0) + float(value)
    return found


def dead_letters(settings: StackSettings) -> int:
    admin = settings.kafka_as("admin")
    return sum(sum(end_offsets(admin, dlq_topic(g), wait=60).values()) for g in GROUPS)


def all_applied_once(
    settings: StackSettings, conn: psycopg.Connection[Any], letters: int, since: datetime
) -> None:
    """Every group caught up, nothing waiting, nothing dead-lettered since ``letters`` were
    counted, every order placed since ``since`` applied once and in its order (a cancelled
    order reversed, never "cancelled first"), and no read model drifted."""
    caught_up(settings)
    assert sum(waiting(settings).values()) == 0
    assert dead_letters(settings) == letters
    bad = conn.execute(
        """SELECT o.id FROM orders.orders o
           LEFT JOIN consumers.sales_orders s ON s.order_id = o.id
           WHERE o.placed_at >= %s
             AND s.status IS DISTINCT FROM
                 CASE o.status WHEN 'cancelled' THEN 'reversed' ELSE 'counted' END""",
        (since,),
    ).fetchall()
    assert bad == [], f"orders not applied once and in order: {bad[:5]}"
    done = subprocess.run(
        [sys.executable, "-m", "ops", "reconcile"], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_producer_first_the_old_consumers_wait_then_the_upgraded_ones_go_on(
    apps_running: None,
    seeding: None,
    stack_settings: StackSettings,
    admin_conn: psycopg.Connection[Any],
    old_schemas: Path,
) -> None:
    with consumers_deployed_with(stack_settings, old_schemas):
        caught_up(stack_settings)
        letters = dead_letters(stack_settings)
        v2_since = seed(30, old_schemas)  # the producer of the release before v3
        v3_since = seed(60, None)  # the producer deployed with v3, consumers not yet
        deadline = time.monotonic() + 90
        while set(GROUPS) - {g for g, n in waiting(stack_settings).items() if n > 0}:
            assert time.monotonic() < deadline, f"not every group waits: {waiting(stack_settings)}"
            time.sleep(1)
        behind = {g: 0 for g in GROUPS}
        for row in group_lag(stack_settings.kafka_as("admin"), GROUPS):
            behind[row.group] += row.lag
        assert all(behind.values()), behind
        assert dead_letters(stack_settings) == letters, "a newer schema is not poison"
        placed_v2 = admin_conn.execute(
            "SELECT count(*) FROM orders.orders o JOIN consumers.sales_orders s "
            "ON s.order_id = o.id WHERE o.placed_at >= %s AND o.placed_at < %s",
            (v2_since, v3_since),
        ).fetchone()
        assert placed_v2 == (30,), "the v2 events before the wait were applied"
        log = (Layout(ROOT).log_file("consumers")).read_text()
        assert "is newer than this process knows (up to v2)" in log

    # Leaving the block deployed the consumers with the repository's schemas (v3 included).
    all_applied_once(stack_settings, admin_conn, letters, v2_since)


def test_consumers_first_nothing_waits(
    apps_running: None,
    seeding: None,
    stack_settings: StackSettings,
    admin_conn: psycopg.Connection[Any],
    old_schemas: Path,
) -> None:
    with consumers_deployed_with(stack_settings, DEFAULT_DIR):  # they know v3 already
        caught_up(stack_settings)
        letters = dead_letters(stack_settings)
        since = seed(30, old_schemas)  # the producer still writes v2 ...
        seed(60, None)  # ... and is then deployed with v3
        all_applied_once(stack_settings, admin_conn, letters, since)
