"""The HA topology's compose form for real (compose.ha.yaml on top of compose.yaml): built and
started on a Docker engine, every service healthy, the three brokers up and the connector
RUNNING; orders seeded through the API container while the container of the Connect worker
running the task and one broker's are killed with SIGKILL (`docker kill -s KILL`); the task
moves to the other worker, and the set-based checker (chaos.verdict) finds every event on the
topic once per (order, type), handled once by every group, none lost; then the killed
containers start again, the host's verbs run against the stack, and ``down -v`` leaves nothing.

Marker ``ha``: `STACK=compose make test-ha` runs it alone (no native stack); the native
`make test-ha` leaves it out (ten more JVMs beside its own five would not fit this machine);
skipped by `make test`. Its own project name, secrets and ports: 31xxx
by default, below Linux's ephemeral range and apart from the compose e2e's 30xxx
(``HA_COMPOSE_PORT_BASE`` moves them)."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from chaos import observe
from chaos.faults import GROUPS
from chaos.verdict import judge
from contract.kafka_reads import end_offsets
from contract.topics import ORDER_EVENTS, dlq_topic
from ops import cluster
from stack import connect
from stack.connect_mode import task_worker
from stack.secrets import SECRET_VARS, own_secrets
from stack.settings import StackSettings
from tests.conftest import ROOT
from tests.engine import docker
from tests.ha.test_failover import _settle

pytestmark = [
    pytest.mark.ha,
    pytest.mark.docker,
    pytest.mark.skipif(
        StackSettings(_env_file=ROOT / ".env").stack_topology != "ha",
        reason="the HA topology's test: make test-ha",
    ),
]
PROJECT = "outbox-ha-e2e"
FILES = ["-f", "compose.yaml", "-f", "compose.ha.yaml"]
BASE = int(os.environ.get("HA_COMPOSE_PORT_BASE", "31000"))
PORTS = {
    "POSTGRES_PORT": BASE + 432,
    "API_PORT": BASE + 0,
    "CONSUMER_METRICS_PORT": BASE + 400,
    "EXPORTER_PORT": BASE + 406,
    "PROMETHEUS_PORT": BASE + 90,
    "KAFKA_1_PORT": BASE + 192,
    "KAFKA_2_PORT": BASE + 292,
    "KAFKA_3_PORT": BASE + 392,
    "CONNECT_1_PORT": BASE + 183,
    "CONNECT_2_PORT": BASE + 283,
}
# What the host's tools are told (the native HA topology's variables), the ports above.
HOST = {
    "STACK_TOPOLOGY": "ha",
    "KAFKA_HA_BOOTSTRAP_SERVERS": ",".join(f"127.0.0.1:{PORTS[f'KAFKA_{i}_PORT']}" for i in "123"),
    "CONNECT_HA_URLS": ",".join(f"http://127.0.0.1:{PORTS[f'CONNECT_{i}_PORT']}" for i in "12"),
}
ONE_SHOT = {"migrate", "kafka-auth", "register"}
CONNECTOR = "orders-outbox"


class Stack:
    def __init__(self, client: dict[str, str], env_file: Path, values: dict[str, str]) -> None:
        self.client, self.env_file, self.secrets = client, env_file, values
        self.timings: dict[str, float] = {}
        self.key = ""

    def run(self, *args: str, timeout: float = 300, check: bool = True) -> Any:
        project = ["compose", "-p", PROJECT, "--env-file", str(self.env_file), *FILES]
        return docker(self.client, *project, *args, timeout=timeout, check=check)

    def host_env(self) -> dict[str, str]:
        return {
            **own_secrets(os.environ), **self.client, **self.secrets,
            **{k: str(v) for k, v in PORTS.items()}, **HOST,
            "COMPOSE_PROJECT_NAME": PROJECT, "COMPOSE_ENV_FILES": str(self.env_file),
        }  # fmt: skip

    def settings(self) -> StackSettings:
        values: dict[str, Any] = {k.lower(): v for k, v in {**self.secrets, **HOST}.items()}
        return StackSettings(_env_file=None, postgres_port=PORTS["POSTGRES_PORT"], **values)

    def seed(self, orders: int, rate: int) -> subprocess.Popen[str]:
        """As `make seed` does in compose: in the API container, as a client whose key is
        handed over by name."""
        seed = ["python", "-m", "producer_app", "seed", f"--orders={orders}", f"--rate={rate}"]
        cmd = ["docker", "compose", "-p", PROJECT, "--env-file", str(self.env_file), *FILES]
        return subprocess.Popen(
            [*cmd, "exec", "-T", "-e", "API_KEY", "api", *seed], cwd=ROOT,
            env={**os.environ, **self.client, "API_KEY": self.key},
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip


@pytest.fixture(scope="module")
def stack(
    docker_engine: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    env_file = tmp_path_factory.mktemp("compose-ha") / ".env"
    values = {name: secrets.token_urlsafe(24) for name in SECRET_VARS}
    env_file.write_text("".join(f"{k}={v}\n" for k, v in {**values, **PORTS}.items()))
    env_file.chmod(0o600)
    st = Stack(docker_engine, env_file, values)
    st.run("down", "-v", "--remove-orphans", check=False)  # a previous run's leftovers
    try:
        t0 = time.monotonic()
        docker({**docker_engine, "COMPOSE_PARALLEL_LIMIT": "1"}, "compose", "-p", PROJECT,
               "--env-file", str(env_file), *FILES, "build", timeout=2400)  # fmt: skip
        st.timings["build"] = time.monotonic() - t0
        t0 = time.monotonic()
        st.run("up", "-d", "--wait", "--wait-timeout", "900", timeout=1000)
        st.timings["up"] = time.monotonic() - t0
    except AssertionError:
        print(st.run("ps", "--all", check=False).stdout)
        print(st.run("logs", "--tail", "40", check=False).stdout[-12000:])
        st.run("down", "-v", "--remove-orphans", check=False)
        raise
    made = st.run("exec", "-T", "api", "python", "-m", "producer_app", "api-key", "ha-e2e")
    st.key = made.stdout.strip().splitlines()[-1]
    print(f"\ncompose HA build {st.timings['build']:.0f}s, up {st.timings['up']:.0f}s")
    yield st
    st.run("down", "-v", "--remove-orphans", check=False)


def _services(stack: Stack) -> dict[str, dict[str, Any]]:
    out = stack.run("ps", "--all", "--format", "json").stdout
    return {r["Service"]: r for r in (json.loads(line) for line in out.splitlines() if line)}


def _all_healthy(stack: Stack) -> None:
    services = _services(stack)
    assert set(services) == {
        "postgres", "kafka-1", "kafka-2", "kafka-3", "kafka-auth", "migrate", "connect-1",
        "connect-2", "register", "api", "consumers", "exporter", "prometheus",
    }  # fmt: skip
    for name, row in services.items():
        if name in ONE_SHOT:
            assert (row["State"], row["ExitCode"]) == ("exited", 0), name
        else:
            assert (row["State"], row["Health"]) == ("running", "healthy"), name


def test_every_service_is_healthy_three_brokers_up_and_the_connector_running(
    stack: Stack,
) -> None:
    _all_healthy(stack)
    problems: list[str] = []
    view = cluster.observe(stack.settings(), problems, [])
    assert [b["state"] for b in view.brokers] == ["up"] * 3, (view, problems)
    assert (view.under_replicated, view.offline) == ([], [])
    st = connect.status(stack.settings().connect_rest(), CONNECTOR)
    assert st is not None, "no connector registered"
    assert st.running, st


def _task_worker(stack: Stack) -> str | None:
    on = task_worker(stack.settings().connect_rest())
    return None if on is None else on.split(":")[0]


def _order_ids(dsn: str) -> list[uuid.UUID]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        return [uuid.UUID(str(r[0])) for r in conn.execute("SELECT id FROM orders.orders")]


def _rss(stack: Stack) -> str:
    fmt = "{{.Name}} {{.MemUsage}}"
    return docker(stack.client, "stats", "--no-stream", "--format", fmt).stdout.strip()


def test_sigkill_of_the_tasks_worker_and_a_broker_mid_seed_loses_and_doubles_nothing(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = stack.settings()
    tools, dsn = settings.kafka_as("tools"), settings.admin_dsn()
    before = _order_ids(dsn)
    topic_at = end_offsets(tools, ORDER_EVENTS, wait=0)
    letters_at = {g: end_offsets(tools, dlq_topic(g), wait=0) for g in GROUPS}
    on = _task_worker(stack)
    assert on in ("connect-1", "connect-2"), on
    seeding = stack.seed(1500, rate=100)
    out: list[str] = []
    reader = threading.Thread(target=lambda: out.append(seeding.communicate(timeout=600)[0]))
    reader.start()
    time.sleep(4)
    stack.run("kill", "-s", "KILL", on)
    killed_at = time.monotonic()
    time.sleep(2)
    stack.run("kill", "-s", "KILL", "kafka-2")
    while _task_worker(stack) in (None, on):
        assert time.monotonic() - killed_at < 120, "the task did not move to the other worker"
        time.sleep(1)
    moved = time.monotonic() - killed_at
    reader.join(timeout=600)
    assert seeding.returncode == 0, out
    settled = _settle(settings)
    rss = _rss(stack)
    verdict = judge(
        dsn, before, observe.messages_since(tools, ORDER_EVENTS, topic_at),
        {g: observe.messages_since(tools, dlq_topic(g), letters_at[g]) for g in GROUPS}, set(),
    )  # fmt: skip
    with capsys.disabled():
        print(
            f"\ncompose HA failover: {on} and kafka-2 killed; task moved in {moved:.1f}s; "
            f"{verdict.expected_events} events, {verdict.topic_duplicates} re-published; "
            f"lost {verdict.lost}, doubled {verdict.doubled}; settled {settled:.0f}s after "
            f"the seed; load {os.getloadavg()[0]:.1f}\n{rss}"
        )
    assert verdict.run_orders == 1500
    assert (verdict.lost, verdict.doubled) == (0, 0), verdict
    assert all(g.dead_lettered == 0 for g in verdict.groups.values()), verdict
    assert verdict.holds
    # The killed containers start again (as a restart policy would) and rejoin healthy.
    for name in (on, "kafka-2"):
        docker(stack.client, "start", f"{PROJECT}-{name}-1")
    stack.run("up", "-d", "--wait", "--wait-timeout", "600", timeout=700)
    _all_healthy(stack)


def test_make_status_and_seed_work_on_the_compose_ha_stack(stack: Stack) -> None:
    """`make status` and `make seed` with STACK=compose TOPOLOGY=ha: make reads both files
    (COMPOSE_FILE) and gives the host's tools the three brokers and both workers."""

    def make(*args: str, **env: str) -> str:
        done = subprocess.run(
            ["make", "-s", *args, "STACK=compose", "TOPOLOGY=ha"], cwd=ROOT,
            env={**stack.host_env(), **env}, capture_output=True, text=True, timeout=300,
            check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        assert "Traceback" not in done.stdout + done.stderr
        return done.stdout

    status = make("status")
    for i in (1, 2, 3):
        assert f"127.0.0.1:{PORTS[f'KAFKA_{i}_PORT']}" in status, status
    for service in ("kafka-1", "kafka-2", "kafka-3", "connect-1", "connect-2"):
        assert service in status, status
    before = len(_order_ids(stack.settings().admin_dsn()))
    assert "seed      20 orders" in make("seed", "ORDERS=20", API_KEY=stack.key)
    assert len(_order_ids(stack.settings().admin_dsn())) == before + 20


def test_down_leaves_no_container_volume_or_network(stack: Stack) -> None:
    stack.run("down", "-v", "--remove-orphans")
    label = f"label=com.docker.compose.project={PROJECT}"
    for kind in ("container", "volume", "network"):
        every = ["-a"] if kind == "container" else []
        listed = docker(stack.client, kind, "ls", "-q", *every, "--filter", label)
        assert listed.stdout.strip() == "", f"{kind}s left: {listed.stdout}"
