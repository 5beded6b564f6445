"""Kafka's KRaft nodes and the Kafka Connect workers as plain JVM processes (one of each, or
three nodes and two workers: ``stack.topology``).

Both run from the jars Maven copied into ``.stack/jars``; configs are rendered from
``stack/conf`` into ``.stack/conf`` so ports and paths come from the settings.

Over 250 lines on purpose, for now: the two parts share the jars, the JVM flags, the metrics
agent and the java command line (the first half), and each part's config follows. The HA
topology of issue 28 (three KRaft nodes, two Connect workers) rewrites the second half; it is
split by part then, rather than twice.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import string
import subprocess
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from stack.health import StackError
from stack.layout import Layout
from stack.private import UMASK
from stack.secrets import own_secrets, write_private
from stack.settings import StackSettings
from stack.topology import Broker, Worker

MIN_JAVA = 17
JMX_EXPORTER = "0.20.0"  # as stack/jars/pom.xml's jmx.exporter.version
# G1 with short pauses; heaps sized for a 2-core / 24 GiB machine shared with Postgres and Python.
JVM_FLAGS = [
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:+ExitOnOutOfMemoryError",
    "-Djava.awt.headless=true",
]


def java_binary() -> str:
    """The ``java`` to use (``JAVA_HOME`` first), checked to be at least Java 17."""
    home = os.environ.get("JAVA_HOME")
    java = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    if not java or not Path(java).exists():
        raise StackError(
            f"Java {MIN_JAVA}+ not found. Install it: apt-get install -y openjdk-17-jre-headless"
        )
    out = subprocess.run([java, "-version"], capture_output=True, text=True, check=False).stderr
    match = re.search(r'version "(\d+)', out)
    if not match or int(match.group(1)) < MIN_JAVA:
        raise StackError(f"{java} is not Java {MIN_JAVA}+ ({out.strip()[:80]}); Kafka 4 needs it.")
    return java


def jars_present(layout: Layout) -> bool:
    kafka = layout.kafka_jars
    agent = layout.jars / "agent" / f"jmx_prometheus_javaagent-{JMX_EXPORTER}.jar"
    return (
        all(
            (kafka / jar).exists()
            for jar in ("kafka_2.13-4.3.0.jar", "connect-basic-auth-extension-4.3.0.jar")
        )
        and agent.exists()
        and any(
            layout.plugins.glob("debezium-connector-postgres/debezium-connector-postgres-*.jar")
        )
    )


def fetch_jars(layout: Layout) -> bool:
    """Run the Maven project once; a second call downloads nothing (returns False)."""
    if jars_present(layout):
        return False
    if shutil.which("mvn") is None:
        raise StackError("Maven not found. Install it: apt-get install -y maven")
    result = subprocess.run(
        ["mvn", "-B", "-q", "-f", str(layout.pom), "package"],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0 or not jars_present(layout):
        raise StackError(
            f"Maven could not fetch the jars:\n{result.stdout[-3000:]}{result.stderr[-2000:]}"
        )
    return True


def render(layout: Layout, name: str, values: dict[str, object], target: str | None = None) -> Path:
    """The template with ``values`` filled in, written 0600 (the configs hold passwords) as
    ``target`` (the template's name by default) under .stack/conf."""
    template = string.Template((layout.conf_templates / name).read_text())
    path = layout.conf / (target or name)
    write_private(path, template.substitute({k: str(v) for k, v in values.items()}))
    return path


def properties(values: dict[str, str]) -> str:
    """Java properties text; values here never hold a newline."""
    return "".join(f"{k}={v}\n" for k, v in values.items())


def _classpath(layout: Layout) -> str:
    return f"{layout.kafka_jars}/*"


def metrics_agent(layout: Layout, settings: StackSettings, port: int, rules: str) -> list[str]:
    """The Prometheus JMX exporter as a java agent on ``port`` (of the bind host), reading only
    the MBeans ``rules`` (stack/conf) names."""
    jar = layout.jars / "agent" / f"jmx_prometheus_javaagent-{JMX_EXPORTER}.jar"
    bind = settings.stack_bind_host
    return [f"-javaagent:{jar}={bind}:{port}:{layout.conf_templates / rules}"]


def _java_cmd(
    layout: Layout, heap: str, main: str, *args: str, agent: Sequence[str] = ()
) -> list[str]:
    log4j = layout.conf_templates / "log4j2.properties"
    return [
        java_binary(),
        f"-Xms{heap}",
        f"-Xmx{heap}",
        *JVM_FLAGS,
        *agent,
        f"-Dlog4j2.configurationFile={log4j}",
        "-cp",
        _classpath(layout),
        main,
        *args,
    ]


def tool_command(layout: Layout, main: str, *args: str) -> list[str]:
    """One of Kafka's own command-line tools (a short-lived JVM: small heap, quick JIT)."""
    java, *rest = _java_cmd(layout, "128m", main, *args)
    return [java, "-XX:TieredStopAtLevel=1", *rest]


@dataclass(frozen=True)
class Listener:
    """One of the broker's listeners: its name, where it binds, what it tells clients."""

    name: str
    bind: str
    advertised: str | None  # None: not for clients (the controller's)


def node(settings: StackSettings, broker: Broker | None = None) -> Broker:
    """``broker``, or the node this process is (a container's ``STACK_KAFKA_NODE``)."""
    return broker or settings.topology.broker(settings.stack_kafka_node)


def listeners(settings: StackSettings, broker: Broker | None = None) -> list[Listener]:
    """Natively one ``CLIENTS`` listener on 127.0.0.1 (on the node's own port in the HA
    topology); in a container ``CLIENTS`` for the compose network and ``HOST`` for the host's
    clients (compose publishes it on 127.0.0.1)."""
    me, bind = node(settings, broker), settings.stack_bind_host
    found = [
        Listener("CLIENTS", f"{bind}:{me.port}", me.address),
        Listener("CONTROLLER", f"{bind}:{me.controller_port}", None),
    ]
    if settings.kafka_host_listener:
        port = settings.kafka_host_listener.rsplit(":", 1)[1]
        found.append(Listener("HOST", f"{bind}:{port}", settings.kafka_host_listener))
    return found


def kafka_config(layout: Layout, settings: StackSettings, broker: Broker | None = None) -> Path:
    """server.properties for this node. Every client listener gets the broker's SCRAM
    login (a listener without one stops the broker at start: "Could not find a 'KafkaServer'
    entry"), and every value is substituted wherever it appears."""
    me, topology = node(settings, broker), settings.topology
    chosen = listeners(settings, me)
    password = settings.need("kafka_broker_password").get_secret_value()
    logins = {
        f"listener.name.{lis.name.lower()}.scram-sha-512.sasl.jaas.config": (
            "org.apache.kafka.common.security.scram.ScramLoginModule required "
            f'username="broker" password="{password}";'
        )
        for lis in chosen
        if lis.advertised is not None
    }
    return render(
        layout,
        "server.properties",
        {
            "node_id": me.node_id,
            "voters": topology.voters,
            "listeners": ",".join(f"{lis.name}://{lis.bind}" for lis in chosen),
            "advertised_listeners": ",".join(
                f"{lis.name}://{lis.advertised}" for lis in chosen if lis.advertised
            ),
            "protocol_map": ",".join(f"{lis.name}:SASL_PLAINTEXT" for lis in chosen),
            "kafka_data": layout.node_data(me.name),
            "client_logins": properties(logins).rstrip("\n"),
            "controller_password": settings.need("kafka_controller_password").get_secret_value(),
            "replication_factor": topology.replication_factor,
            "min_insync_replicas": topology.min_insync_replicas,
        },
        target=_own(me.name, "kafka", "server.properties"),
    )


def _own(name: str, alone: str, file: str) -> str:
    """The rendered file of one node: the template's name for the only one (``kafka``,
    ``connect``), ``kafka-2.properties`` and the like in the HA topology."""
    return file if name == alone else f"{name}.properties"


def cluster_id(new: Callable[[], uuid.UUID] = uuid.uuid4) -> str:
    """A KRaft cluster id: a random UUID in URL-safe base64. One starting with "-" would be
    read by kafka-storage as an option (1 in 64 fresh clones failed make up that way), so,
    like Kafka's own Uuid.randomUuid, draw again."""
    while True:
        candidate = base64.urlsafe_b64encode(new().bytes).decode().rstrip("=")
        if not candidate.startswith("-"):
            return candidate


def shared_cluster_id(layout: Layout, settings: StackSettings) -> str:
    """The nodes of one cluster are formatted with one id: ``KAFKA_CLUSTER_ID`` (compose's
    containers), else a formatted node's, else a new one kept under .stack/conf."""
    if settings.kafka_cluster_id:
        return settings.kafka_cluster_id
    for b in settings.topology.brokers:
        meta = layout.node_data(b.name) / "meta.properties"
        if meta.exists():
            for line in meta.read_text().splitlines():
                if line.startswith("cluster.id="):
                    return line.split("=", 1)[1].strip()
    kept = layout.conf / f"kafka-cluster-id.{settings.topology.name}"
    if not kept.exists():
        write_private(kept, cluster_id() + "\n")
    return kept.read_text().strip()


def format_kafka_storage(
    layout: Layout, settings: StackSettings, broker: Broker | None = None
) -> bool:
    """Format the node's KRaft log directory once with the cluster's id and the SCRAM
    credentials of the broker and the admin principal (the others are created by
    ``stack.kafka_auth`` once the brokers run); True if done now. A directory formatted before
    Kafka required authentication has no credentials, and no client could log in: say so, and
    how to fix."""
    me = node(settings, broker)
    config, data = kafka_config(layout, settings, me), layout.node_data(me.name)
    marker = data / ".scram"
    if (data / "meta.properties").exists():
        if not marker.exists():
            raise StackError(
                f"Kafka's data in {data} was formatted before the broker required "
                "authentication, so no principal could log in. `make clean` deletes the local "
                "data (orders, topics, read models), then `make up` starts afresh."
            )
        return False
    scram = []
    for name in ("broker", "admin"):
        password = settings.kafka_as(name).password.get_secret_value()
        scram += ["--add-scram", f"SCRAM-SHA-512=[name={name},password={password}]"]
    args = ["format", "-t", shared_cluster_id(layout, settings), "-c", str(config), *scram]
    cmd = _java_cmd(layout, "256m", "kafka.tools.StorageTool", *args)
    # The data directory, as the broker's own files later, readable by its owner only.
    result = subprocess.run(cmd, capture_output=True, text=True, check=False, umask=UMASK)
    if result.returncode != 0:
        raise StackError(f"formatting Kafka storage failed:\n{result.stdout}{result.stderr}")
    marker.write_text("SCRAM-SHA-512 credentials for broker and admin added at format time\n")
    return True


def kafka_command(
    layout: Layout, settings: StackSettings, broker: Broker | None = None
) -> list[str]:
    me = node(settings, broker)
    return _java_cmd(
        layout,
        settings.topology.kafka_heap,
        "kafka.Kafka",
        str(kafka_config(layout, settings, me)),
        agent=metrics_agent(layout, settings, me.metrics_port, "jmx-kafka.yml"),
    )


def _connect_rest_auth(layout: Layout, settings: StackSettings) -> Path:
    """The JAAS file naming the REST API's password file (both 0600 under .stack/conf)."""
    passwords = layout.conf / "connect-rest.passwords"
    password = settings.need("connect_rest_password").get_secret_value()
    write_private(passwords, f"{settings.connect_rest_user}: {password}\n")
    jaas = layout.conf / "connect-rest.jaas"
    write_private(
        jaas,
        "KafkaConnect {\n"
        "  org.apache.kafka.connect.rest.basic.auth.extension.PropertyFileLoginModule required\n"
        f'  file="{passwords}";\n'
        "};\n",
    )
    return jaas


def worker(settings: StackSettings, chosen: Worker | None = None) -> Worker:
    """``chosen``, or the worker this process is (a container's ``STACK_CONNECT_WORKER``)."""
    return chosen or settings.topology.workers[settings.stack_connect_worker - 1]


def connect_command(
    layout: Layout, settings: StackSettings, chosen: Worker | None = None
) -> list[str]:
    me, topology = worker(settings, chosen), settings.topology
    access = settings.kafka_as("connect")
    login = {}
    for prefix in ("", "producer.", "consumer.", "admin."):
        login.update(access.java_properties(prefix))
    config = render(
        layout,
        "connect-distributed.properties",
        {
            "bootstrap": settings.kafka_bootstrap_servers,
            "rest_bind": settings.stack_bind_host,
            "rest_host": me.host,
            "connect_port": me.port,
            "plugin_path": layout.plugins,
            "kafka_login": properties(login),
            "replication_factor": topology.replication_factor,
            "rebalance_delay_ms": topology.rebalance_delay_ms,
            "exactly_once": "enabled" if settings.connect_exactly_once else "disabled",
        },
        target=_own(me.name, "connect", "connect-distributed.properties"),
    )
    java, *rest = _java_cmd(
        layout,
        topology.connect_heap,
        "org.apache.kafka.connect.cli.ConnectDistributed",
        str(config),
        agent=metrics_agent(layout, settings, me.metrics_port, "jmx-connect.yml"),
    )
    jaas = _connect_rest_auth(layout, settings)
    return [java, f"-Djava.security.auth.login.config={jaas}", *rest]


def connect_env(settings: StackSettings) -> dict[str, str]:
    """The worker's environment: no secret but the Debezium role's, which is all its
    EnvVarConfigProvider may resolve in connector JSON (the allowlist in its properties)."""
    env = own_secrets(os.environ)
    env.update(
        {
            "POSTGRES_HOST": settings.postgres_host,
            "POSTGRES_PORT": str(settings.postgres_port),
            "POSTGRES_DB": settings.postgres_db,
            "DEBEZIUM_DB_USER": settings.debezium_db_user,
            "DEBEZIUM_DB_PASSWORD": settings.need("debezium_db_password").get_secret_value(),
        }
    )
    return env
