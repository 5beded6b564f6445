"""``make reconcile`` on the running pipeline: no drift once every group caught up, then each
tampered row is found (its group, its check, its key) and the verb exits 1, for cron."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import psycopg
import pytest

from stack.settings import StackSettings
from tests.conftest import ROOT
from tests.kafka_helpers import caught_up

pytestmark = pytest.mark.e2e


def reconcile() -> tuple[int, dict[str, Any]]:
    done = subprocess.run(
        [sys.executable, "-m", "ops", "reconcile", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode in (0, 1), done.stderr
    answer: dict[str, Any] = json.loads(done.stdout)
    return done.returncode, answer


def test_reconcile_finds_nothing_then_each_tampered_row(
    apps_running: None,
    stack_settings: StackSettings,
    admin_conn: psycopg.Connection[tuple[Any, ...]],
) -> None:
    caught_up(stack_settings)
    code, clean = reconcile()
    assert (code, clean["differences"]) == (0, []), clean
    assert {g["lag"] for g in clean["groups"].values()} == {0}

    day, sku, currency = admin_conn.execute(
        "UPDATE consumers.sales_daily SET units = units + 1 WHERE (day, sku, currency) = "
        "(SELECT day, sku, currency FROM consumers.sales_daily WHERE units > 0 LIMIT 1) "
        "RETURNING day, sku, currency"
    ).fetchone() or (None, None, None)
    row = admin_conn.execute(
        "DELETE FROM consumers.notifications WHERE event_id = "
        "(SELECT event_id FROM consumers.notifications LIMIT 1) RETURNING *"
    ).fetchone()
    assert day is not None
    assert row is not None
    try:
        code, drift = reconcile()
        assert code == 1
        found = {(d["group"], d["check"]): d for d in drift["differences"]}
        assert set(found) == {
            ("sales-projection", "sales projection"),
            ("notifications", "notifications"),
        }
        assert found["sales-projection", "sales projection"]["examples"] == [
            f"{day} {sku} {currency}"
        ]
        assert found["notifications", "notifications"]["examples"] == [str(row[1])]
        shown = subprocess.run(
            ["make", "-s", "reconcile"], cwd=ROOT, capture_output=True, text=True
        )
        assert shown.returncode != 0
        assert "sales projection" in shown.stdout
    finally:
        admin_conn.execute(
            "UPDATE consumers.sales_daily SET units = units - 1"
            " WHERE day = %s AND sku = %s AND currency = %s",
            (day, sku, currency),
        )
        columns = ", ".join(["%s"] * len(row))
        admin_conn.execute(f"INSERT INTO consumers.notifications VALUES ({columns})", row)
    assert reconcile()[0] == 0
