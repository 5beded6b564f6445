"""The operator's day as the issue found it, run again as written through ``make`` against the
native stack: a dead-lettered order traced (and settled with ``make dlq-skip``), a
re-published order traced, a refused rebuild that stops nothing, ``make up`` without
Prometheus, the preflight naming everything missing at once, ``make topics`` in 80 columns,
``make status`` showing each group Stable, ``make trace`` taking the traceparent the API
returns."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import psycopg
import pytest

from consumers.handlers import REGISTRY
from stack.layout import Layout
from stack.parts import app_parts
from stack.settings import StackSettings
from tests import factories
from tests.conftest import ROOT, bearer

pytestmark = pytest.mark.e2e
T = TypeVar("T")


def make(*args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> Any:
    return subprocess.run(
        ["make", "-s", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        input=stdin,
        timeout=300,
        env={**os.environ, **(env or {})},
        check=False,
    )


def until(check: Callable[[], T | None], timeout: float, what: str) -> T:
    deadline = time.monotonic() + timeout
    while (found := check()) is None:
        assert time.monotonic() < deadline, f"{what}: not within {timeout:.0f}s"
        time.sleep(2)
    return found


def traced(ident: str) -> dict[str, Any]:
    done = make("trace", f"ID={ident}", "JSON=1")
    assert done.returncode == 0, done.stdout + done.stderr  # before: 'Partition is not assigned'
    answer: dict[str, Any] = json.loads(done.stdout)
    return answer


def place(settings: StackSettings, customer: str, key: str) -> tuple[str, str]:
    """(order id, the traceparent the API answered with), placed as the tests' client."""
    payload = {**factories.order_payload(), "customer_id": customer}
    request = urllib.request.Request(
        f"http://127.0.0.1:{settings.api_port}/orders",
        json.dumps(payload).encode(),
        {
            "Content-Type": "application/json",
            "Idempotency-Key": f"op-{uuid.uuid4()}",
            **bearer(key),
        },
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as r:  # noqa: S310
        return json.loads(r.read())["id"], r.headers["traceparent"]


def hop(found: dict[str, Any], group: str, event: int = 0) -> dict[str, Any]:
    hops: dict[str, dict[str, Any]] = {g["group"]: g for g in found["events"][event]["groups"]}
    return hops.get(group, {"state": "missing"})


def test_a_dead_lettered_order_is_traced_then_skipped_with_who_and_why(
    apps_running: None,
    stack_settings: StackSettings,
    admin_conn: psycopg.Connection[tuple[object, ...]],
    api_key: str,
) -> None:
    customer = f"cust-dl-{uuid.uuid4().hex[:8]}"
    constraint = f"op_day_{uuid.uuid4().hex[:8]}"
    admin_conn.execute(  # breaks the notifications handler for this customer only
        f"ALTER TABLE consumers.notifications ADD CONSTRAINT {constraint} "
        f"CHECK (customer_id <> '{customer}') NOT VALID"
    )
    try:
        order_id, traceparent = place(stack_settings, customer, api_key)

        def dead_lettered() -> dict[str, Any] | None:
            t = traced(order_id)
            return (
                t if t["events"] and hop(t, "notifications")["state"] == "dead_lettered" else None
            )

        found = until(dead_lettered, 120, "the order dead-lettered by notifications")
        assert "CheckViolation" in hop(found, "notifications")["reason"]
        assert traced(traceparent)["found_by"] == "traceparent"
        table = make("trace", f"ID={order_id}")
        assert table.returncode == 0, table.stderr
        assert "dead-lettered" in table.stdout
        assert max(len(line) for line in table.stdout.splitlines()) <= 80
    finally:
        admin_conn.execute(f"ALTER TABLE consumers.notifications DROP CONSTRAINT {constraint}")
    event_id = found["events"][0]["event_id"]
    why = "customer called by the shop instead"
    skipped = make("dlq-skip", "GROUP=notifications", f"IDS={event_id}", f"REASON={why}")
    assert skipped.returncode == 0, skipped.stdout + skipped.stderr
    settled = hop(traced(order_id), "notifications")
    assert (settled["state"], settled["skip_reason"]) == ("skipped", why)
    assert "@" in settled["skipped_by"]
    again = make("dlq-skip", "GROUP=notifications", f"IDS={event_id}", "REASON=once more")
    assert again.returncode == 2
    assert "skipped already" in again.stderr
    replay = make("dlq-replay", "GROUP=notifications", f"IDS={event_id}", "JSON=1")
    assert json.loads(replay.stdout)["duplicate"] == 1, replay.stdout + replay.stderr
    (rows,) = admin_conn.execute(
        "SELECT count(*) FROM consumers.notifications WHERE order_id = %s", (order_id,)
    ).fetchone() or (None,)
    assert rows == 0, "a skipped dead letter was applied by a replay"
    # Leave no drift for the tests after this one: the skip undone, the replay applies it.
    admin_conn.execute(
        "DELETE FROM consumers.dead_letter_skips WHERE consumer_group = 'notifications' "
        "AND event_id = %s",
        (event_id,),
    )
    admin_conn.execute(
        "UPDATE consumers.processed_events SET outcome = 'dead_lettered' "
        "WHERE consumer_group = 'notifications' AND event_id = %s",
        (event_id,),
    )
    replay = make("dlq-replay", "GROUP=notifications", f"IDS={event_id}", "JSON=1")
    assert json.loads(replay.stdout)["handled"] == 1, replay.stdout + replay.stderr


def test_a_republished_order_is_still_its_two_events(
    apps_running: None, stack_settings: StackSettings, api_key: str
) -> None:
    order_id, _ = place(stack_settings, f"cust-re-{uuid.uuid4().hex[:8]}", api_key)
    request = urllib.request.Request(
        f"http://127.0.0.1:{stack_settings.api_port}/orders/{order_id}/cancel",
        json.dumps({"reason": "republished"}).encode(),
        {"Content-Type": "application/json", **bearer(api_key)},
        method="POST",
    )
    urllib.request.urlopen(request, timeout=10).close()  # noqa: S310

    def handled_by_all() -> dict[str, Any] | None:
        t = traced(order_id)
        states = [g["state"] for e in t["events"] for g in e["groups"] if g["group"] in REGISTRY]
        return t if states == ["handled"] * 2 * len(REGISTRY) else None

    until(handled_by_all, 120, "both events handled")
    done = make("republish", f"IDS={order_id}")
    assert done.returncode == 0, done.stderr

    def copies_read() -> dict[str, Any] | None:
        t = traced(order_id)
        return t if len(t["events"]) == 2 and all(e["republished"] for e in t["events"]) else None

    found = until(copies_read, 60, "the re-published copies on the topic")
    assert [e["event_type"] for e in found["events"]] == ["OrderPlaced", "OrderCancelled"]
    for event in found["events"]:
        for group in event["groups"]:
            assert group["after_kafka_ms"] >= 0, group  # before: -69,721 ms after Kafka


def test_a_refused_rebuild_stops_nothing(stack_settings: StackSettings) -> None:
    part = next(p for p in app_parts(Layout(ROOT), stack_settings) if p.name == "consumers")
    if part.pid() is None:
        part.up()
    before = part.pid()
    done = make("rebuild", "GROUP=notifications")
    assert part.pid() == before, "the consumers were restarted by a refused rebuild"
    assert done.returncode == 2
    assert "refused, nothing stopped or changed" in done.stdout
    assert "declares no reset" in done.stdout


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_preflight_names_everything_missing_at_once(tmp_path: Path) -> None:
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    taken = holder.getsockname()[1]
    names = "KAFKA_CONTROLLER API CONSUMER_METRICS CONNECT_METRICS KAFKA_METRICS EXPORTER"
    ports = {f"{name}_PORT": str(_free_port()) for name in f"{names} PROMETHEUS".split()}
    env = {
        k: v for k, v in os.environ.items() if k not in ("JAVA_HOME", "PG_BIN") and "PORT" not in k
    }
    env |= ports | {
        "PATH": str(Path(sys.executable).parent),  # no java, mvn, prometheus
        "PG_BIN": str(tmp_path / "no-postgres"),
        "POSTGRES_PORT": str(taken),
        "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{_free_port()}",
        "CONNECT_URL": f"http://127.0.0.1:{_free_port()}",
        "STACK_METRICS": "1",
    }
    try:
        done = subprocess.run(
            [sys.executable, "-m", "stack", "--root", str(tmp_path), "up"],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )
    finally:
        holder.close()
    assert done.returncode == 1
    problems = [line for line in done.stderr.splitlines() if line.startswith("  - ")]
    assert len(problems) == 5, done.stderr
    for needle in ("Java 17+", "Maven", "PostgreSQL server binaries", "METRICS=1"):
        assert any(needle in p for p in problems), (needle, done.stderr)
    assert any(f"127.0.0.1:{taken} (postgres) is taken by pid {os.getpid()}" in p for p in problems)
    assert not (tmp_path / ".stack" / "run").exists(), "something was started"


@pytest.fixture
def path_without_prometheus() -> Iterator[str]:
    """A PATH with every command of this one but prometheus and promtool: a machine without
    them. Its folder is one the postgres user may enter too (the stack runs Postgres'
    commands through ``runuser -u postgres``, which finds ``sh`` on this PATH)."""
    shadow = Path(tempfile.mkdtemp(prefix="outbox-no-prometheus-"))
    shadow.chmod(0o755)
    try:
        for folder in [str(Path(sys.executable).parent), *os.environ["PATH"].split(os.pathsep)]:
            for tool in Path(folder).glob("*") if Path(folder).is_dir() else []:
                if (
                    tool.name not in ("prometheus", "promtool")
                    and not (shadow / tool.name).exists()
                ):
                    (shadow / tool.name).symlink_to(tool)
        yield str(shadow)
    finally:
        shutil.rmtree(shadow)


def test_without_prometheus_make_up_comes_up_with_one_warning(
    apps_running: None, stack_settings: StackSettings, path_without_prometheus: str
) -> None:
    prometheus = next(p for p in app_parts(Layout(ROOT), stack_settings) if p.name == "prometheus")
    prometheus.halt()
    env = {**os.environ, "PATH": path_without_prometheus}
    env.pop("STACK_METRICS", None)
    try:
        steps = [
            subprocess.run(
                [sys.executable, "-m", "stack", verb],
                cwd=ROOT,
                capture_output=True,
                text=True,
                env=env,
                timeout=300,
                check=False,
            )
            for verb in ("up", "register", "apps")
        ]
        for step in steps:
            assert step.returncode == 0, step.stdout + step.stderr
        warnings = [
            line for s in steps for line in (s.stdout + s.stderr).splitlines() if "warning" in line
        ]
        assert len(warnings) == 1, warnings
        assert "apt-get install -y prometheus" in warnings[0]
        assert "prometheus not started (not installed" in steps[2].stdout
        assert prometheus.pid() is None
        required = subprocess.run(
            [sys.executable, "-m", "stack", "up"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            env={**env, "STACK_METRICS": "1"},
            timeout=120,
            check=False,
        )
        assert required.returncode == 1
        assert "prometheus not found (METRICS=1)" in required.stderr
    finally:
        prometheus.up()


def test_topics_fit_80_columns_and_say_how_each_keeps_messages() -> None:
    done = make("topics")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert lines[0].split() == [
        "topic",
        "kind",
        "messages",
        "per",
        "partition",
        "retention",
        "cleanup",
    ]
    compacted = next(line for line in lines if line.startswith("connect-configs"))
    assert "latest" in compacted
    assert "compact" in compacted
    listed = {t["name"]: t for t in json.loads(make("topics", "JSON=1").stdout)}
    assert listed["connect-configs"]["cleanup_policy"] == "compact"
    assert listed["outbox.event.order"]["retention"] == "7 d"


def test_status_shows_each_group_stable(apps_running: None) -> None:
    def stable() -> dict[str, Any] | None:
        report = json.loads(make("status", "JSON=1").stdout)
        groups = {g["group"]: g for g in report["groups"]}
        ok = set(groups) == set(REGISTRY) and all(
            g["state"] == "Stable" and g["members"] for g in groups.values()
        )
        return report if ok else None

    until(stable, 60, "every group Stable")
    assert "notifications Stable (1 member)" in " ".join(make("status").stdout.split())
