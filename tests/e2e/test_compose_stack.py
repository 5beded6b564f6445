"""``docker compose up`` for real, as a user with Docker runs it: every image built here from
debian:bookworm-slim (nothing pulled), every service healthy, orders seeded through the API
container and handled once per group, then Connect and the consumers SIGKILLed mid-seed with
nothing lost and nothing applied twice (the chaos checker's sets of ids), the host's verbs
against the containers, and ``down -v`` leaving nothing behind.

It runs beside the native stack of ``make test``: its own project name, its own secrets and
the 30xxx ports (compose publishes on 127.0.0.1 only). Kafka's host listener is advertised on
the published port, so the host's tools (and this test) reach the broker as users do."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from chaos.observe import messages_since
from chaos.verdict import Verdict, judge
from contract.kafka import KafkaAccess
from contract.kafka_reads import end_offsets
from contract.topics import DLQ_PREFIX, ORDER_EVENTS
from stack.secrets import SECRET_VARS, own_secrets
from stack.settings import StackSettings
from tests.conftest import ROOT
from tests.engine import docker

pytestmark = [pytest.mark.e2e, pytest.mark.docker]

PROJECT = "outbox-e2e"
# Below Linux's ephemeral range (32768 and up), where any client's socket may hold a port for a
# moment, and apart from the native defaults.
PORTS = {
    "POSTGRES_PORT": 30432,
    "KAFKA_PORT": 30092,
    "KAFKA_METRICS_PORT": 30405,
    "CONNECT_PORT": 30083,
    "CONNECT_METRICS_PORT": 30404,
    "API_PORT": 30000,
    "CONSUMER_METRICS_PORT": 30400,
    "EXPORTER_PORT": 30406,
    "PROMETHEUS_PORT": 30090,
}
GROUPS = ["inventory", "notifications", "sales-projection"]
ONE_SHOT = {"migrate", "kafka-auth", "register"}


@dataclass
class Compose:
    client: dict[str, str]  # DOCKER_HOST (and DOCKER_CONFIG)
    env_file: Path
    secrets: dict[str, str]
    timings: dict[str, float]
    keys: dict[str, str]

    def run(
        self, *args: str, timeout: float = 300, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        return docker(
            self.client, "compose", "-p", PROJECT, "--env-file", str(self.env_file), *args,
            timeout=timeout, check=check,
        )  # fmt: skip

    def api_key(self, client: str) -> str:
        """A key of ``client``, made once in the API container, as ``make api-key`` does."""
        if client not in self.keys:
            made = self.run("exec", "-T", "api", "python", "-m", "producer_app", "api-key", client)
            self.keys[client] = made.stdout.strip().splitlines()[-1]
        return self.keys[client]

    def host_env(self) -> dict[str, str]:
        """The host's tools pointed at this stack: its secrets and published ports."""
        return {
            **own_secrets(os.environ),
            **self.client,
            **self.secrets,
            **{k: str(v) for k, v in PORTS.items()},
            "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{PORTS['KAFKA_PORT']}",
            "CONNECT_URL": f"http://127.0.0.1:{PORTS['CONNECT_PORT']}",
            "COMPOSE_PROJECT_NAME": PROJECT,
            "COMPOSE_ENV_FILES": str(self.env_file),
        }

    def settings(self) -> StackSettings:
        values: dict[str, Any] = {
            k.lower(): v for k, v in self.host_env().items() if k in SECRET_VARS
        }
        return StackSettings(
            _env_file=None,
            postgres_port=PORTS["POSTGRES_PORT"],
            kafka_bootstrap_servers=f"127.0.0.1:{PORTS['KAFKA_PORT']}",
            connect_url=f"http://127.0.0.1:{PORTS['CONNECT_PORT']}",
            **values,
        )


@pytest.fixture(scope="module")
def stack(
    docker_engine: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Compose]:
    env_file = tmp_path_factory.mktemp("compose") / ".env"
    values = {name: secrets.token_urlsafe(24) for name in SECRET_VARS}
    env_file.write_text("".join(f"{k}={v}\n" for k, v in {**values, **PORTS}.items()))
    env_file.chmod(0o600)
    compose = Compose(docker_engine, env_file, values, {}, {})
    compose.run("down", "-v", "--remove-orphans", check=False)  # a previous run's leftovers
    try:
        t0 = time.monotonic()
        # What `make up` does with STACK=compose: one build at a time, then up and wait.
        docker(
            {**docker_engine, "COMPOSE_PARALLEL_LIMIT": "1"},
            "compose", "-p", PROJECT, "--env-file", str(env_file), "build", timeout=2400,
        )  # fmt: skip
        compose.timings["build"] = time.monotonic() - t0
        t0 = time.monotonic()
        compose.run("up", "-d", "--wait", "--wait-timeout", "900", timeout=1000)
        compose.timings["up"] = time.monotonic() - t0
    except AssertionError:
        print(compose.run("ps", "--all", check=False).stdout)
        print(compose.run("logs", "--tail", "40", check=False).stdout[-12000:])
        compose.run("down", "-v", "--remove-orphans", check=False)
        raise
    print(f"compose build {compose.timings['build']:.0f}s, up {compose.timings['up']:.0f}s")
    yield compose
    compose.run("down", "-v", "--remove-orphans", check=False)


def _services(stack: Compose) -> dict[str, dict[str, Any]]:
    out = stack.run("ps", "--all", "--format", "json").stdout
    rows = [json.loads(line) for line in out.splitlines() if line.strip()]
    return {row["Service"]: row for row in rows}


def _order_ids(settings: StackSettings) -> list[uuid.UUID]:
    with psycopg.connect(settings.admin_dsn(), autocommit=True) as conn:
        return [r[0] for r in conn.execute("SELECT id FROM orders.orders")]


def _dead_letters(access: KafkaAccess) -> dict[str, list[Any]]:
    topics = {f"{DLQ_PREFIX}{g}": g for g in GROUPS}
    return {
        g: messages_since(access, t, {p: 0 for p in end_offsets(access, t, wait=0)})
        for t, g in topics.items()
    }


def _settled(
    stack: Compose, before: list[uuid.UUID], since: dict[int, int], timeout: float = 300
) -> Verdict:
    """Wait until every event of the orders placed since ``before`` is handled by every group,
    then judge the sets (the chaos run's checker)."""
    settings = stack.settings()
    access = settings.kafka_as("admin")
    deadline = time.monotonic() + timeout
    while True:
        verdict = judge(
            settings.admin_dsn(), before, messages_since(access, ORDER_EVENTS, since),
            _dead_letters(access), set(),
        )  # fmt: skip
        if verdict.lost == 0 or time.monotonic() > deadline:
            return verdict
        time.sleep(3)


def _seed(stack: Compose, orders: int, rate: int = 0) -> subprocess.Popen[str]:
    """Orders through the API container's own service layer, as `make seed` does in compose:
    as a client, its key passed by name from this environment (not on a command line)."""
    seed = ["python", "-m", "producer_app", "seed", "--orders", str(orders), "--rate", str(rate)]
    project = ["-p", PROJECT, "--env-file", str(stack.env_file)]
    cmd = ["docker", "compose", *project, "exec", "-T", "-e", "API_KEY", "api", *seed]
    env = {**os.environ, **stack.client, "API_KEY": stack.api_key("e2e-seed")}
    return subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def test_every_service_is_up_and_healthy(stack: Compose) -> None:
    services = _services(stack)
    assert set(services) == {
        "postgres", "kafka", "kafka-auth", "migrate", "connect", "register", "api",
        "consumers", "exporter", "prometheus",
    }  # fmt: skip
    for name, row in services.items():
        if name in ONE_SHOT:
            assert (row["State"], row["ExitCode"]) == ("exited", 0), name
        else:
            assert (row["State"], row["Health"]) == ("running", "healthy"), name
    connector = stack.settings().connect_rest().call("/connectors/orders-outbox/status")
    assert isinstance(connector, dict)
    assert connector["connector"]["state"] == "RUNNING"
    assert [t["state"] for t in connector["tasks"]] == ["RUNNING"]
    # Every group is ready (holds partitions, reaches Postgres): the consumers' own probe.
    url = f"http://127.0.0.1:{PORTS['CONSUMER_METRICS_PORT']}/health/ready"
    with urllib.request.urlopen(url, timeout=5) as r:
        assert json.loads(r.read()) == {"ok": True, "ready_processes": dict.fromkeys(GROUPS, 1)}


def test_prometheus_scrapes_every_target(stack: Compose) -> None:
    url = f"http://127.0.0.1:{PORTS['PROMETHEUS_PORT']}/api/v1/targets"
    deadline = time.monotonic() + 60
    while True:
        with urllib.request.urlopen(url, timeout=5) as r:
            targets = json.loads(r.read())["data"]["activeTargets"]
        health = {t["labels"]["job"]: t["health"] for t in targets}
        if set(health.values()) == {"up"} or time.monotonic() > deadline:
            break
        time.sleep(2)
    assert health == dict.fromkeys(
        ["api", "connect", "consumers", "exporter", "kafka", "prometheus"], "up"
    )


def _http(
    method: str, path: str, key: str | None = None, body: dict[str, Any] | None = None
) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    data = json.dumps(body).encode() if body is not None else None
    url = f"http://127.0.0.1:{PORTS['API_PORT']}{path}"
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as r:  # noqa: S310 (http://127.0.0.1 above)
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def test_the_published_api_answers_a_client_only_about_its_own_orders(stack: Compose) -> None:
    """Issue 25 in compose: /orders needs a key, an order is its client's alone (404 for
    another's, as for an unknown id), /health stays open."""
    order = {"customer_id": "cust-compose", "currency": "EUR",
             "lines": [{"sku": "SKU-1", "quantity": 1, "unit_price_cents": 950}]}  # fmt: skip
    assert _http("GET", "/health")[0] == 200
    assert _http("POST", "/orders", None, order)[0] == 401
    assert _http("POST", "/orders", "not-a-key", order)[0] == 401
    status, placed = _http("POST", "/orders", stack.api_key("e2e-alice"), order)
    assert status == 201, placed
    path = f"/orders/{placed['id']}"
    assert _http("GET", path, stack.api_key("e2e-alice"))[0] == 200
    assert _http("GET", path, stack.api_key("e2e-bob"))[0] == 404


def test_the_debezium_role_cannot_copy_the_data_directory(stack: Compose, tmp_path: Path) -> None:
    """Issue 25 in compose: the postgres image's pg_hba.conf refuses physical replication to
    the role whose password Connect holds (its logical stream to the app database stays: the
    connector is RUNNING in the health test)."""
    copy = subprocess.run(
        ["pg_basebackup", "--host=127.0.0.1", f"--port={PORTS['POSTGRES_PORT']}",
         "--username=debezium", f"--pgdata={tmp_path / 'bb'}", "--wal-method=none",
         "--no-password"],
        env={**os.environ, "PGPASSWORD": stack.secrets["DEBEZIUM_DB_PASSWORD"]},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert copy.returncode != 0, "the Debezium role copied the data directory"
    assert "pg_hba.conf rejects replication connection" in copy.stderr


def test_seeded_orders_are_on_the_topic_once_and_handled_once_per_group(stack: Compose) -> None:
    settings = stack.settings()
    before, since = (
        _order_ids(settings),
        end_offsets(settings.kafka_as("admin"), ORDER_EVENTS, wait=0),
    )
    seed = _seed(stack, 500)
    out, _ = seed.communicate(timeout=300)
    assert seed.returncode == 0, out
    verdict = _settled(stack, before, since)
    assert verdict.run_orders == 500
    assert verdict.holds, verdict
    assert verdict.topic_duplicates == 0, "no fault, yet an event was published twice"
    for group, g in verdict.groups.items():
        assert g.dead_lettered == 0, group


def test_sigkill_of_connect_and_the_consumers_mid_seed_loses_and_doubles_nothing(
    stack: Compose,
) -> None:
    settings = stack.settings()
    before, since = (
        _order_ids(settings),
        end_offsets(settings.kafka_as("admin"), ORDER_EVENTS, wait=0),
    )
    seed = _seed(stack, 600, rate=60)
    for victim in ("connect", "consumers"):
        time.sleep(3)
        stack.run("kill", "-s", "SIGKILL", victim)
        time.sleep(2)
        # The container itself, as a restart policy would: `compose start` would also start
        # its one-shot dependencies again (migrate, register) and wait for them.
        docker(stack.client, "start", f"{PROJECT}-{victim}-1")
    out, _ = seed.communicate(timeout=300)
    assert seed.returncode == 0, out
    stack.run("up", "-d", "--wait", "--wait-timeout", "300", timeout=400)  # healthy again
    verdict = _settled(stack, before, since)
    assert verdict.run_orders == 600
    assert verdict.holds, verdict  # every event handled once per group, none doubled
    print(f"after SIGKILL of connect and consumers: {verdict.topic_duplicates} re-published")


@pytest.mark.parametrize(
    "verb",
    [
        ["status", "STACK=compose"],
        ["topics"],
        ["inspect", "TOPIC=outbox.event.order", "N=3"],
        ["lag", "MAX_LAG=0"],
        ["register"],
        ["dlq-replay", "GROUP=notifications"],
        ["reconcile"],
        ["trace", "ID={order}"],
    ],
    ids=lambda v: v[0],
)
def test_the_hosts_verbs_work_against_the_containers(stack: Compose, verb: list[str]) -> None:
    order = _order_ids(stack.settings())[0]
    args = [a.replace("{order}", str(order)) for a in verb]
    done = subprocess.run(
        ["make", "-s", *args], cwd=ROOT, env=stack.host_env(), capture_output=True, text=True,
        timeout=180, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "Traceback" not in done.stdout + done.stderr


def test_make_api_key_and_seed_run_in_the_api_container(stack: Compose) -> None:
    """The README's first steps with STACK=compose: a key made by ``make api-key``, then
    ``make seed`` as that client (its key handed to the container by name, off the command
    line)."""

    def make(*args: str, **env: str) -> str:
        done = subprocess.run(
            ["make", "-s", *args, "STACK=compose"], cwd=ROOT, env={**stack.host_env(), **env},
            capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        return done.stdout

    key = make("api-key", "NAME=e2e-make").strip().splitlines()[-1]
    before = len(_order_ids(stack.settings()))
    out = make("seed", "ORDERS=20", API_KEY=key)
    assert "seed      20 orders" in out, out
    assert len(_order_ids(stack.settings())) == before + 20
    assert make("api-key", "NAME=e2e-make", "REVOKE=1").strip().endswith("of client e2e-make")
    refused = subprocess.run(
        ["make", "-s", "seed", "ORDERS=1", "STACK=compose"], cwd=ROOT,
        env={**stack.host_env(), "API_KEY": key}, capture_output=True, text=True, timeout=300,
        check=False,
    )  # fmt: skip
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "API_KEY is not a live key" in refused.stdout + refused.stderr


def test_down_leaves_no_container_volume_or_network(stack: Compose) -> None:
    stack.run("down", "-v", "--remove-orphans")
    label = f"label=com.docker.compose.project={PROJECT}"
    for kind in ("container", "volume", "network"):
        listed = docker(
            stack.client,
            kind,
            "ls",
            "-q",
            *(["-a"] if kind == "container" else []),
            "--filter",
            label,
        )
        assert listed.stdout.strip() == "", f"{kind}s left: {listed.stdout}"
