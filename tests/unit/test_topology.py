"""The HA topology as the renderer writes it (stack/topology.py, stack/jvm.py): three KRaft
nodes that are each broker and voter, replication 3 with min.insync.replicas 2 for every topic
Kafka makes (its own included), two Connect workers of one group that hand a dead worker's
task on in seconds, every client given every broker. The single topology stays as it was."""

from __future__ import annotations

import http.server
import json
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr, ValidationError

from stack import connect, jvm, monitoring, preflight, switch
from stack.health import StackError
from stack.layout import Layout
from stack.rest import ConnectRest
from stack.settings import StackSettings
from tests.conftest import ROOT
from tests.unit.test_rendered_configs import SECRETS, props

HA: dict[str, Any] = {
    "stack_topology": "ha",
    "kafka_ha_bootstrap_servers": "127.0.0.1:7192,127.0.0.1:7292,127.0.0.1:7392",
    "kafka_ha_controller_ports": "7193,7293,7393",
    "kafka_ha_metrics_ports": "7195,7295,7395",
    "connect_ha_urls": "http://127.0.0.1:7183,http://127.0.0.1:7283",
    "connect_ha_metrics_ports": "7194,7294",
}


@pytest.fixture
def layout(tmp_path: Path) -> Layout:
    shutil.copytree(ROOT / "stack/conf", tmp_path / "stack/conf")
    return Layout(tmp_path)


def settings(**extra: Any) -> StackSettings:
    return StackSettings(_env_file=None, **SECRETS, **extra)


def test_every_node_is_a_broker_and_a_voter_with_three_replicas_and_two_in_sync(
    layout: Layout,
) -> None:
    ha = settings(**HA)
    configs = [props(jvm.kafka_config(layout, ha, b)) for b in ha.topology.brokers]
    assert [c["node.id"] for c in configs] == ["1", "2", "3"]
    for i, config in enumerate(configs, 1):
        assert config["process.roles"] == "broker,controller"
        assert config["controller.quorum.voters"] == (
            "1@127.0.0.1:7193,2@127.0.0.1:7293,3@127.0.0.1:7393"
        )
        assert config["listeners"] == f"CLIENTS://127.0.0.1:7{i}92,CONTROLLER://127.0.0.1:7{i}93"
        assert config["advertised.listeners"] == f"CLIENTS://127.0.0.1:7{i}92"
        assert config["log.dirs"] == str(layout.stack_dir / f"kafka-{i}" / "data")
        for key in (
            "default.replication.factor",
            "offsets.topic.replication.factor",
            "transaction.state.log.replication.factor",
            "share.coordinator.state.topic.replication.factor",
        ):
            assert config[key] == "3", key
        for key in (
            "min.insync.replicas",
            "transaction.state.log.min.isr",
            "share.coordinator.state.topic.min.isr",
        ):
            assert config[key] == "2", key
        assert config["unclean.leader.election.enable"] == "false"
    # Each node its own file: no node's rendering overwrites another's.
    assert sorted(p.name for p in layout.conf.glob("kafka-*.properties")) == [
        "kafka-1.properties",
        "kafka-2.properties",
        "kafka-3.properties",
    ]


def test_the_single_node_keeps_one_replica_and_its_own_file(layout: Layout) -> None:
    config = props(jvm.kafka_config(layout, settings()))
    assert config["node.id"] == "1"
    assert config["controller.quorum.voters"] == "1@127.0.0.1:9093"
    assert config["default.replication.factor"] == config["min.insync.replicas"] == "1"
    assert config["unclean.leader.election.enable"] == "false"
    assert (layout.conf / "server.properties").exists()


def test_the_workers_share_a_group_know_every_broker_and_hand_tasks_on_in_seconds(
    layout: Layout, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(jvm, "java_binary", lambda: "java")
    ha = settings(**HA)
    for i, worker in enumerate(ha.topology.workers, 1):
        command = jvm.connect_command(layout, ha, worker)
        config = props(layout.conf / f"connect-{i}.properties")
        assert str(layout.conf / f"connect-{i}.properties") in command
        assert config["group.id"] == "outbox-connect"
        assert config["bootstrap.servers"] == HA["kafka_ha_bootstrap_servers"]
        assert config["listeners"] == f"http://127.0.0.1:7{i}83"
        assert config["rest.advertised.port"] == f"7{i}83"
        assert config["scheduled.rebalance.max.delay.ms"] == "5000"
        assert config["exactly.once.source.support"] == "disabled"
        for topic in ("config", "offset", "status"):
            assert config[f"{topic}.storage.replication.factor"] == "3"
        agent = next(arg for arg in command if arg.startswith("-javaagent:"))
        assert f"=127.0.0.1:7{i}94:" in agent
        assert f"-Xmx{ha.connect_ha_heap}" in command
    single = settings()
    jvm.connect_command(layout, single)
    config = props(layout.conf / "connect-distributed.properties")
    assert config["config.storage.replication.factor"] == "1"
    assert config["scheduled.rebalance.max.delay.ms"] == "300000"  # Connect's own default


def test_a_workers_call_to_a_dead_broker_is_retried_in_seconds_not_a_minute(
    layout: Layout, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Measured: after kill -9 of the task's worker and of a broker, the task's new worker spent
    Kafka's default 60 s on one end-offsets call of connect-offsets that went to the dead
    broker before retrying it (the task started 85 s after the kill). The worker's own clients
    take their settings from the worker's top level; the admin client raises a
    default.api.timeout.ms below request.timeout.ms to it, so both are bounded."""
    monkeypatch.setattr(jvm, "java_binary", lambda: "java")
    jvm.connect_command(layout, settings(**HA), settings(**HA).topology.workers[0])
    config = props(layout.conf / "connect-1.properties")
    api, request = int(config["default.api.timeout.ms"]), int(config["request.timeout.ms"])
    assert api <= 10_000
    assert request <= api


def test_exactly_once_source_is_on_the_workers_and_required_by_the_connector(
    layout: Layout, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(jvm, "java_binary", lambda: "java")
    jvm.connect_command(layout, settings(**HA, connect_exactly_once=True))
    assert props(layout.conf / "connect-1.properties")["exactly.once.source.support"] == ("enabled")
    (file,) = connect.load_connector_files(ROOT / "connectors")
    assert "exactly.once.support" not in connect.for_workers(file, exactly_once=False)["config"]
    required = connect.for_workers(file, exactly_once=True)["config"]
    assert required["exactly.once.support"] == "required"
    # Topics Connect creates take the brokers' replication factor (1 alone, 3 in HA).
    assert required["topic.creation.default.replication.factor"] == "-1"


def test_in_ha_every_client_is_given_every_broker_and_every_worker() -> None:
    ha = settings(**HA)
    assert ha.kafka_bootstrap_servers == HA["kafka_ha_bootstrap_servers"]
    assert ha.kafka_as("connect").bootstrap_servers == HA["kafka_ha_bootstrap_servers"]
    assert ha.connect_rest().url == HA["connect_ha_urls"]
    assert settings().kafka_bootstrap_servers == "127.0.0.1:9092"


def test_a_port_list_of_the_wrong_length_is_named() -> None:
    # Refused when the settings are read, not when a part first asks for the topology.
    with pytest.raises(ValidationError, match="KAFKA_HA_METRICS_PORTS must list 3 port numbers"):
        settings(**{**HA, "kafka_ha_metrics_ports": "7195,7295"})
    assert settings(kafka_ha_metrics_ports="7195,7295").stack_topology == "single"  # unread
    with pytest.raises(ValidationError, match="stack_topology"):
        settings(stack_topology="triple")


def test_preflight_and_prometheus_cover_every_node_and_worker() -> None:
    ha = settings(**HA)
    ports = preflight.ports(ha, apps=False)
    assert {ports[f"kafka-{i}"] for i in (1, 2, 3)} == {7192, 7292, 7392}
    assert {ports[f"kafka-{i} controller"] for i in (1, 2, 3)} == {7193, 7293, 7393}
    assert {ports[f"connect-{i} metrics"] for i in (1, 2)} == {7194, 7294}
    found = monitoring.targets(ha)
    assert found["kafka"] == ["127.0.0.1:7195", "127.0.0.1:7295", "127.0.0.1:7395"]
    assert found["connect"] == ["127.0.0.1:7194", "127.0.0.1:7294"]
    compose = monitoring.targets(ha.model_copy(update={"stack_targets_by_service": True}))
    assert compose["kafka"] == ["kafka-1:7195", "kafka-2:7295", "kafka-3:7395"]


def test_the_nodes_share_one_cluster_id(layout: Layout) -> None:
    ha = settings(**HA)
    first = jvm.shared_cluster_id(layout, ha)
    assert jvm.shared_cluster_id(layout, ha) == first
    # A formatted node's id wins over the kept one (a node formatted by an earlier run).
    data = layout.node_data("kafka-2")
    data.mkdir(parents=True)
    (data / "meta.properties").write_text("version=1\ncluster.id=formatted-id\nnode.id=2\n")
    assert jvm.shared_cluster_id(layout, ha) == "formatted-id"
    assert jvm.shared_cluster_id(layout, settings(**HA, kafka_cluster_id="given")) == "given"


class _Answer(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        status = 404 if self.path == "/missing" else 200
        body = json.dumps({"path": self.path}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def worker_url() -> Iterator[str]:
    server = http.server.HTTPServer(("127.0.0.1", 0), _Answer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_rest_call_passes_a_dead_worker_over_but_not_an_answer(worker_url: str) -> None:
    import socket
    import urllib.error

    with socket.socket() as s:  # a port nobody listens on: a dead worker
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    rest = ConnectRest(f"{dead},{worker_url}", "operator", SecretStr("pw"))
    answer = rest.call("/connectors")
    assert isinstance(answer, dict)
    assert answer["path"] == "/connectors"
    with pytest.raises(urllib.error.HTTPError):
        ConnectRest(f"{worker_url},{dead}", "operator", SecretStr("pw")).call("/missing")
    with pytest.raises(urllib.error.URLError):
        ConnectRest(dead, "operator", SecretStr("pw")).call("/connectors")


def test_a_cluster_left_behind_by_the_other_topologys_run_is_refused_naming_its_data(
    layout: Layout,
) -> None:
    """Seen: make up TOPOLOGY=ha after a single-topology session left the task FAILED ("no
    longer available on the server"): the single connector had moved the one slot on."""
    ha, single = settings(**HA), settings()
    switch.check_and_remember(layout, single)  # first start: nothing to compare with
    switch.check_and_remember(layout, ha)  # no ha data yet: a fresh cluster
    for b in ha.topology.brokers:
        layout.node_data(b.name).mkdir(parents=True)
        (layout.node_data(b.name) / "meta.properties").write_text("cluster.id=x\n")
    switch.check_and_remember(layout, ha)  # ha again: its own data is current
    (layout.node_data("kafka")).mkdir(parents=True)
    (layout.node_data("kafka") / "meta.properties").write_text("cluster.id=y\n")
    with pytest.raises(StackError, match=r"rm -r \.stack/kafka`"):
        switch.check_and_remember(layout, single)
    switch.check_and_remember(layout, ha)  # refused starts do not change what ran last
    (layout.conf / switch.LAST).write_text("single\n")
    with pytest.raises(StackError, match=r"rm -r \.stack/kafka-1 \.stack/kafka-2 \.stack/kafka-3`"):
        switch.check_and_remember(layout, ha)
