"""The HA topology's compose form (compose.ha.yaml read on top of compose.yaml, as
`STACK=compose make up TOPOLOGY=ha` reads them), held to the native HA topology: each
container's environment, as compose-go loaded it, read by the stack's own settings and rendered
by its own code (stack/topology.py, stack/jvm.py, stack/monitoring.py), so the two forms cannot
differ. That it runs, and holds when a node dies, is tests/ha/test_compose_ha.py's part."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from stack import jvm, monitoring
from stack.layout import Layout
from stack.settings import StackSettings
from stack.topology import HA_REBALANCE_DELAY_MS
from tests.compose.conftest import load
from tests.compose.test_image_contracts import HA_NEEDS
from tests.conftest import ROOT

NODES = ["kafka-1", "kafka-2", "kafka-3"]
WORKERS = ["connect-1", "connect-2"]
# What the JVM image sets for every part (Dockerfile): servers listen on every container address.
IMAGE_ENV = {"STACK_BIND_HOST": "0.0.0.0"}  # noqa: S104 - published on the host's loopback only


def _settings(project: dict[str, Any], service: str) -> StackSettings:
    env = {**IMAGE_ENV, **(project["services"][service].get("environment") or {})}
    return StackSettings(_env_file=None, **{k.lower(): v for k, v in env.items()})


def _props(path: Path) -> dict[str, str]:
    lines = path.read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line and not line.startswith("#"))


@pytest.fixture
def layout(tmp_path: Path) -> Layout:
    shutil.copytree(ROOT / "stack/conf", tmp_path / "stack/conf")
    return Layout(tmp_path)


def test_three_nodes_and_two_workers_replace_the_single_ones(ha_project: dict[str, Any]) -> None:
    services = ha_project["services"]
    assert set(services) == set(HA_NEEDS)
    assert {"kafka", "connect"}.isdisjoint(services)
    for name in NODES + WORKERS:
        assert services[name]["command"] == ["serve", name.split("-")[0]], name
    builders = {s["image"]: n for n, s in services.items() if "build" in s}
    assert set(builders) == {"outbox/app:dev", "outbox/jvm:dev", "outbox/postgres:dev",
                             "outbox/prometheus:dev"}  # fmt: skip
    for name, service in services.items():
        if "build" not in service:
            assert service.get("pull_policy") == "never", f"{name} would pull {service['image']}"


def test_each_node_is_its_own_kraft_voter_with_the_ha_replication(
    ha_project: dict[str, Any], layout: Layout
) -> None:
    """Rendered by stack/jvm.py from each container's environment: node i of three voters,
    RF 3, min.insync.replicas 2, no unclean election, the native HA topology's heap."""
    ids, heaps = set(), set()
    for i, name in enumerate(NODES, 1):
        settings = _settings(ha_project, name)
        me = jvm.node(settings)
        assert (me.name, me.node_id, me.host) == (name, i, name)
        config = _props(jvm.kafka_config(layout, settings))
        ids.add(config["node.id"])
        heaps.add(settings.topology.kafka_heap)
        assert config["controller.quorum.voters"] == ",".join(
            f"{n}@{node}:9093" for n, node in enumerate(NODES, 1)
        )
        published = ha_project["services"][name]["ports"][0]["published"]
        assert config["advertised.listeners"] == (
            f"CLIENTS://{name}:29092,HOST://127.0.0.1:{published}"
        )
        assert config["default.replication.factor"] == "3"
        assert config["offsets.topic.replication.factor"] == "3"
        assert config["transaction.state.log.replication.factor"] == "3"
        assert config["min.insync.replicas"] == "2"
        assert config["unclean.leader.election.enable"] == "false"
        assert "KAFKA_CLUSTER_ID" in ha_project["services"][name]["environment"]
    assert ids == {"1", "2", "3"}
    assert heaps == {StackSettings.model_fields["kafka_ha_heap"].default}


def test_both_workers_join_one_group_and_hand_a_dead_ones_task_on_in_seconds(
    ha_project: dict[str, Any], layout: Layout, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(jvm, "java_binary", lambda: "java")
    for name in WORKERS:
        settings = _settings(ha_project, name)
        command = jvm.connect_command(layout, settings)
        assert f"-Xmx{StackSettings.model_fields['connect_ha_heap'].default}" in command
        config = _props(
            Path(command[command.index("org.apache.kafka.connect.cli.ConnectDistributed") + 1])
        )
        assert config["group.id"] == "outbox-connect"
        assert config["rest.advertised.host.name"] == name
        assert config["scheduled.rebalance.max.delay.ms"] == str(HA_REBALANCE_DELAY_MS)
        assert config["bootstrap.servers"] == ",".join(f"{n}:29092" for n in NODES)
        for store in ("config", "offset", "status"):
            assert config[f"{store}.storage.replication.factor"] == "3"


@pytest.mark.parametrize("service", sorted(set(HA_NEEDS) - {"api", "postgres"}))
def test_every_client_is_given_all_three_brokers_and_both_workers(
    ha_project: dict[str, Any], service: str
) -> None:
    """Any one broker may be down when a client starts (and either worker, for a REST call)."""
    env = ha_project["services"][service]["environment"]
    assert env["KAFKA_BOOTSTRAP_SERVERS"] == ",".join(f"{n}:29092" for n in NODES), service
    if "STACK_TOPOLOGY" in env:  # the stack's own jobs and parts read the topology
        settings = _settings(ha_project, service)
        assert settings.kafka_bootstrap_servers == env["KAFKA_BOOTSTRAP_SERVERS"]
        assert settings.connect_url == ",".join(f"http://{w}:8083" for w in WORKERS)
    else:
        assert service in {"consumers", "exporter"}, f"{service} is not told the topology"


def test_prometheus_scrapes_every_node_and_worker_at_its_service(
    ha_project: dict[str, Any],
) -> None:
    found = monitoring.targets(_settings(ha_project, "prometheus"))
    assert found["kafka"] == [f"{n}:9405" for n in NODES]
    assert found["connect"] == [f"{w}:9404" for w in WORKERS]
    hosts = {target.rsplit(":", 1)[0] for targets in found.values() for target in targets}
    assert hosts <= set(ha_project["services"])


def test_published_ports_are_the_native_ha_topologys(ha_project: dict[str, Any]) -> None:
    """By default the host's tools reach the containers where `make up TOPOLOGY=ha` would
    have them (KAFKA_HA_BOOTSTRAP_SERVERS, CONNECT_HA_URLS), on 127.0.0.1 only."""
    native = StackSettings(_env_file=None, stack_topology="ha").topology
    services = ha_project["services"]
    for broker in native.brokers:
        (port,) = services[broker.name]["ports"]
        assert (port["host_ip"], int(port["published"]), port["target"]) == (
            "127.0.0.1", broker.port, broker.port
        )  # fmt: skip
        listener = services[broker.name]["environment"]["KAFKA_HOST_LISTENER"]
        assert listener == f"127.0.0.1:{broker.port}"
    for worker in native.workers:
        (port,) = services[worker.name]["ports"]
        assert (port["host_ip"], int(port["published"]), port["target"]) == (
            "127.0.0.1", worker.port, 8083
        )  # fmt: skip


def test_the_loader_refuses_a_client_waiting_on_the_single_topologys_worker(
    checker: Path, tmp_path: Path
) -> None:
    """The check can fail: `register` still waiting on compose.yaml's `connect`, which this
    form leaves out, would never start."""
    original = (ROOT / "compose.ha.yaml").read_text()
    waits = "      connect-2: {condition: service_healthy}\n"
    broken = original.replace(waits, waits + waits.replace("connect-2", "connect"))
    assert broken != original, "the mutation no longer applies to compose.ha.yaml"
    (tmp_path / "compose.ha.yaml").write_text(broken)
    loaded = load(
        checker, ROOT / "compose.yaml", ROOT / ".env.example", tmp_path / "compose.ha.yaml"
    )
    assert loaded.returncode != 0
    assert "connect" in loaded.stderr


def test_each_containers_healthcheck_probes_its_own_node_or_worker(
    ha_project: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With every broker as bootstrap, a node's check would pass on the others' answer while
    it is still down; `python -m stack probe` asks the container's own node (worker) alone."""
    from stack import serve

    asked: list[str] = []
    monkeypatch.setattr(serve, "kafka_probe", lambda access: asked.append(access.bootstrap_servers))
    monkeypatch.setattr(serve, "connect_probe", lambda rest: asked.append(rest.url))
    for name in NODES:
        serve.PROBES["kafka"](_settings(ha_project, name))
    for name in WORKERS:
        serve.PROBES["connect"](_settings(ha_project, name))
    assert asked == [f"{n}:29092" for n in NODES] + [f"http://{w}:8083" for w in WORKERS]


def test_each_nodes_volume_is_a_directory_the_image_gives_its_user(
    ha_project: dict[str, Any],
) -> None:
    """A named volume takes its mount point's owner from the image; one the image lacks is
    made root's, and the broker (user app) could not format its log directory."""
    jvm_stage = (ROOT / "Dockerfile").read_text().split("FROM python AS jvm", 1)[1]
    owned = jvm_stage.split("chown app", 1)[1].split("\n\n", 1)[0].split()
    for name in NODES:
        (volume,) = ha_project["services"][name]["volumes"]
        assert volume["type"] == "volume"
        assert volume["target"] == f"/app/.stack/{name}", volume
        assert volume["target"] in owned, f"the jvm image does not give app {volume['target']}"


def test_the_ha_form_keeps_its_own_database(
    project: dict[str, Any], ha_project: dict[str, Any]
) -> None:
    """One replication slot per Kafka cluster: the single form's Connect offsets, behind a slot
    the HA form moved on, would fail its connector after a switch back (seen natively)."""
    single = {v["source"] for v in project["services"]["postgres"]["volumes"]}
    ha = {v["source"] for v in ha_project["services"]["postgres"]["volumes"]}
    assert ha == {"pgdata-ha"}
    assert single.isdisjoint(ha)
