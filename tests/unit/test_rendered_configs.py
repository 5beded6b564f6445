"""The configurations both stacks render from one piece of code (stack/jvm.py, postgres.py,
monitoring.py): natively everything on 127.0.0.1; in a container (compose) on every address of
the container, with the in-network and host-facing addresses each where it belongs. Two of the
bugs compose's first real run met were here: a listener without the broker's login, and a
placeholder filled only where it first appeared on its line."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from stack import jvm, monitoring, pg_access
from stack.layout import Layout
from stack.settings import StackSettings
from tests.conftest import ROOT

SECRETS: dict[str, Any] = {
    "kafka_broker_password": "broker-pw",
    "kafka_controller_password": "controller-pw",
    "kafka_connect_password": "connect-pw",
    "connect_rest_password": "rest-pw",
    "debezium_db_password": "dbz-pw",
}
CONTAINER: dict[str, Any] = {
    "stack_bind_host": "0.0.0.0",  # noqa: S104 - a container's, published on loopback
    "kafka_bootstrap_servers": "kafka:29092",
    "kafka_host_listener": "127.0.0.1:39092",
    "connect_url": "http://connect:8083",
    "stack_targets_by_service": True,
}


@pytest.fixture
def layout(tmp_path: Path) -> Layout:
    shutil.copytree(ROOT / "stack/conf", tmp_path / "stack/conf")
    (tmp_path / "monitoring").mkdir()
    return Layout(tmp_path)


def settings(**extra: Any) -> StackSettings:
    return StackSettings(_env_file=None, **SECRETS, **extra)


def props(path: Path) -> dict[str, str]:
    lines = path.read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line and not line.startswith("#"))


@pytest.mark.parametrize("where", ["native", "container"])
def test_every_client_listener_logs_the_broker_in(layout: Layout, where: str) -> None:
    config = props(
        jvm.kafka_config(layout, settings(**(CONTAINER if where == "container" else {})))
    )
    names = [entry.split("://")[0] for entry in config["listeners"].split(",")]
    clients = [n for n in names if n != config["controller.listener.names"]]
    assert clients == (["CLIENTS", "HOST"] if where == "container" else ["CLIENTS"])
    for name in clients:
        login = config[f"listener.name.{name.lower()}.scram-sha-512.sasl.jaas.config"]
        assert 'username="broker" password="broker-pw"' in login
        assert f"{name}:SASL_PLAINTEXT" in config["listener.security.protocol.map"]


def test_every_placeholder_is_filled_wherever_it_appears(layout: Layout) -> None:
    text = jvm.kafka_config(layout, settings(**CONTAINER)).read_text()
    assert "${" not in text
    controller = props(jvm.kafka_config(layout, settings(**CONTAINER)))[
        "listener.name.controller.plain.sasl.jaas.config"
    ]
    assert controller.count("controller-pw") == 2  # the login and the user it accepts


def test_the_container_broker_binds_everywhere_and_advertises_two_addresses(
    layout: Layout,
) -> None:
    config = props(jvm.kafka_config(layout, settings(**CONTAINER)))
    assert (
        config["listeners"]
        == "CLIENTS://0.0.0.0:29092,CONTROLLER://0.0.0.0:9093,HOST://0.0.0.0:39092"
    )
    assert config["advertised.listeners"] == "CLIENTS://kafka:29092,HOST://127.0.0.1:39092"
    assert config["controller.quorum.voters"] == "1@kafka:9093"


def test_the_native_broker_stays_on_loopback(layout: Layout) -> None:
    config = props(jvm.kafka_config(layout, settings()))
    assert config["listeners"] == "CLIENTS://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093"
    assert config["advertised.listeners"] == "CLIENTS://127.0.0.1:9092"


@pytest.mark.parametrize(
    ("extra", "bind", "advertised"),
    [({}, "127.0.0.1", "127.0.0.1"), (CONTAINER, "0.0.0.0", "connect")],  # noqa: S104
)
def test_connect_listens_and_advertises_where_the_settings_say(
    layout: Layout,
    extra: dict[str, Any],
    bind: str,
    advertised: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(jvm, "java_binary", lambda: "java")
    command = jvm.connect_command(layout, settings(**extra))
    worker = props(layout.conf / "connect-distributed.properties")
    assert str(layout.conf / "connect-distributed.properties") in command
    assert worker["listeners"] == f"http://{bind}:8083"
    assert worker["rest.advertised.host.name"] == advertised
    agent = next(arg for arg in command if arg.startswith("-javaagent:"))
    assert re.search(rf"={re.escape(bind)}:9404:", agent), agent


def test_postgres_listens_and_admits_where_the_settings_say(layout: Layout) -> None:
    assert pg_access.server_options(settings())["listen_addresses"] == "127.0.0.1"
    assert pg_access.hba_clients(settings()) == pg_access.LOOPBACK
    container = settings(**CONTAINER)
    assert pg_access.server_options(container)["listen_addresses"] == "*"
    # The compose network may log in with a password; physical replication stays closed.
    rules = pg_access.hba_conf(pg_access.hba_clients(container)).splitlines()
    assert "host all all all scram-sha-256" in rules
    assert rules.index("host replication all all reject") < rules.index(
        "host all all all scram-sha-256"
    )


def test_prometheus_scrapes_the_same_jobs_in_both_stacks(layout: Layout) -> None:
    native = monitoring.config(layout, settings())["scrape_configs"]
    compose = monitoring.config(layout, settings(**CONTAINER))["scrape_configs"]
    assert [j["job_name"] for j in native] == [j["job_name"] for j in compose]
    for job in compose:
        (target,) = job["static_configs"][0]["targets"]
        assert target.split(":")[0] == job["job_name"]
    for job in native:
        (target,) = job["static_configs"][0]["targets"]
        assert target.startswith("127.0.0.1:")
