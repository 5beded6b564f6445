"""The README's guided tour and its dead-letter walk-through, run as a reader runs them: each
command of the two shell blocks, in order, through bash in the repository root. A renamed
verb, a changed option or output that no longer says what the README shows fails here.

Only what a test cannot type is filled in: ``<order id>`` becomes an order the seed placed,
``<the key it printed>`` the key ``make api-key`` printed, the API's and Postgres' default
ports this clone's (``.env``), and ``make up`` is skipped (the stack is up; the API and the
consumers are started here if they are not). Each command sees what the ones before it
exported, as in a reader's shell. A command whose result a reader waits for (the dead letter
arriving) is repeated until it shows, as a reader would repeat it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
import uuid

import psycopg
import pytest

from stack.settings import StackSettings
from tests.conftest import ROOT
from tests.readme import block

pytestmark = pytest.mark.e2e


def commands(name: str) -> list[str]:
    """The block's commands: comment lines dropped, continuation lines joined, a trailing
    ``# ...`` comment cut (none of the commands has a ``#`` of its own)."""
    text = block(name).replace("\\\n", " ")
    out = []
    for line in text.splitlines():
        line = line.split(" #", 1)[0].strip()
        if line and not line.startswith("#"):
            out.append(re.sub(r"\s+", " ", line))
    return out


def sh(
    command: str, prelude: str = "", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    settings = StackSettings(_env_file=ROOT / ".env")
    for default, port in ((8000, settings.api_port), (9400, settings.consumer_metrics_port)):
        command = command.replace(f"localhost:{default}", f"localhost:{port}")
    return subprocess.run(
        ["bash", "-c", f"{prelude}{command}"],
        cwd=ROOT,
        env={**os.environ, "PGPORT": str(settings.postgres_port), **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_guided_tour(
    apps_running: None, admin_conn: psycopg.Connection[tuple[object, ...]]
) -> None:
    tour = commands("readme-tour")
    assert tour[0] == "make up", tour
    assert len(tour) >= 7, tour
    exported: dict[str, str] = {}
    printed = ""
    for command in tour[1:]:
        if "<order id>" in command:
            (order_id,) = admin_conn.execute(
                "SELECT id FROM orders.orders ORDER BY placed_at DESC LIMIT 1"
            ).fetchone() or (None,)
            command = command.replace("<order id>", str(order_id))
        if command.startswith("export "):
            name, value = command.removeprefix("export ").split("=", 1)
            # The key's own line: under `make test` make adds "Entering directory" lines.
            printed_key = re.search(r"\bopk_[A-Za-z0-9_-]{43}\b", printed)
            assert printed_key is not None, printed
            exported[name] = value.replace("<the key it printed>", printed_key[0])
            continue
        done = sh(command, env=exported)
        printed = done.stdout
        if "MAX_LAG" in command:  # exits 1 while a partition is further behind: that is its job
            assert done.returncode in (0, 1), (command, done.stderr)
            continue
        assert done.returncode == 0, (command, done.stdout, done.stderr)
        if command.startswith("make inspect"):
            assert "OrderPlaced" in done.stdout or "OrderCancelled" in done.stdout, done.stdout
        if command.startswith("make seed"):
            assert re.search(r"\b2,?000\b", done.stdout + done.stderr), done.stdout


def _drained() -> None:
    """The seed's events handled by the group the tour breaks, so only the tour's order fails
    (a reader who runs the walk-through while a seed is consumed dead-letters those too)."""
    deadline = time.monotonic() + 180
    while sh("make lag GROUP=notifications MAX_LAG=0").returncode != 0:
        assert time.monotonic() < deadline, "notifications did not catch up in 180 s"
        time.sleep(2)


def _replayed(done: subprocess.CompletedProcess[str]) -> None:
    """The replay handled the tour's order. Dead letters that fail again (bytes no reader can
    decode, left by earlier tests as by ``make chaos``) are dead-lettered again and make the
    verb exit 1, as the README says; nothing else may."""
    found = re.search(
        r"replayed dlq.notifications: handled (\d+), .* dead-lettered again (\d+)",
        " ".join(done.stdout.split()),
    )
    assert found, done.stdout + done.stderr
    handled, again = int(found[1]), int(found[2])
    assert handled >= 1, done.stdout
    # Letters no replay may trust (reduced ones, left by the chaos run's oversized records)
    # are refused, and make the verb exit 3: make says Error 3 and exits 2 itself.
    refused = re.search(r"refused (\d+)", done.stdout)
    assert refused is not None, done.stdout
    failed = again or int(refused[1])
    assert done.returncode == (2 if failed else 0), (done.returncode, done.stdout, done.stderr)


def test_the_dead_letter_walk_through(
    apps_running: None, admin_conn: psycopg.Connection[tuple[object, ...]], api_key: str
) -> None:
    prelude, *steps = commands("readme-dead-letter")
    assert prelude.startswith("set -a; . ./.env"), prelude
    prelude += "; "
    key = {"API_KEY": api_key}  # the reader exported theirs in the tour
    _drained()
    order_id: uuid.UUID | None = None
    try:
        for command in steps:
            if command.startswith("make inspect TOPIC=dlq."):
                assert order_id is not None
                deadline = time.monotonic() + 90
                while str(order_id) not in (done := sh(command, prelude, key)).stdout:
                    assert time.monotonic() < deadline, done.stdout + done.stderr
                    time.sleep(2)
                assert "failed after 3 attempts" in done.stdout
                assert "CheckViolation" in done.stdout, done.stdout
                continue
            done = sh(command, prelude, key)
            if command.startswith("make dlq-replay"):
                _replayed(done)
                continue
            assert done.returncode == 0, (command, done.stdout, done.stderr)
            if command.startswith("curl"):
                order_id = uuid.UUID(json.loads(done.stdout)["id"])
    finally:  # never leave the handler broken for the tests after this one
        admin_conn.execute(
            "ALTER TABLE consumers.notifications DROP CONSTRAINT IF EXISTS tour_breaks_it"
        )
    (handled,) = admin_conn.execute(
        "SELECT count(*) FROM consumers.notifications WHERE order_id = %s", (order_id,)
    ).fetchone() or (0,)
    assert handled == 1, "the replay did not handle the dead-lettered order"
