"""Typed settings for the stack: ports, hosts and secrets, all from the environment.

The variable names are the ones ``compose.yaml`` uses, so a connector config or an app setting
means the same thing in both stacks. Passwords have no value in any committed file: ``make up``
writes a git-ignored ``.env`` with random ones (see ``stack.secrets``). Each is optional here
because in compose a service is given only its own; ``need()`` names one that is missing.
"""

from __future__ import annotations

from typing import Literal

from pydantic import SecretStr, model_validator

from contract.database import PostgresSettings
from contract.kafka import KafkaAccess, group_access
from stack import topology as topologies
from stack.health import StackError
from stack.rest import ConnectRest

METRICS_MODES = {
    "auto": ("", "auto"),
    "required": ("1", "true", "yes", "required"),
    "off": ("0", "false", "no", "off"),
}


class StackSettings(PostgresSettings):
    """Where each part listens and which credentials the bootstrap hands out."""

    postgres_user: str = "postgres"
    postgres_password: SecretStr | None = None

    app_db_user: str = "app"
    app_db_password: SecretStr | None = None
    # The owner of schema ``consumers`` (its migrations); each group runs as a role of its own
    # whose password is derived from ``consumer_db_secret`` (contract.database).
    consumer_db_user: str = "consumer"
    consumer_db_password: SecretStr | None = None
    consumer_db_secret: SecretStr | None = None
    debezium_db_user: str = "debezium"
    debezium_db_password: SecretStr | None = None
    monitor_db_user: str = "monitor"
    monitor_db_password: SecretStr | None = None

    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_controller_port: int = 9093
    # Kafka principals (SASL/SCRAM-SHA-512; the controller listener uses PLAIN): the broker
    # itself, the operator tools and the stack's bootstrap (admin), the Connect worker, the
    # consumer groups (one principal each, derived from one secret: contract.kafka) and the
    # bench and chaos tools.
    kafka_controller_password: SecretStr | None = None
    kafka_broker_password: SecretStr | None = None
    kafka_admin_password: SecretStr | None = None
    kafka_connect_password: SecretStr | None = None
    kafka_consumers_secret: SecretStr | None = None
    kafka_tools_password: SecretStr | None = None
    kafka_monitor_password: SecretStr | None = None

    connect_url: str = "http://127.0.0.1:8083"
    connect_rest_user: str = "operator"
    connect_rest_password: SecretStr | None = None
    # Compose's Grafana admin (the native stack runs none; generated with the others).
    grafana_admin_password: SecretStr | None = None
    api_port: int = 8000
    # The API keys' keyed hash (HMAC-SHA256): only the API and its key verb hold it.
    api_key_pepper: SecretStr | None = None
    # Prometheus endpoints (docs/observability.md): the consumers' port is theirs
    # (CONSUMER_METRICS_PORT); the JVMs' come from the JMX exporter agent; the exporter is
    # ops' (the replication slot and the groups' lag as the broker sees it).
    consumer_metrics_port: int = 9400
    connect_metrics_port: int = 9404
    kafka_metrics_port: int = 9405
    exporter_port: int = 9406
    prometheus_port: int = 9090
    # make up METRICS=: empty, Prometheus when installed (a warning when not); 1, required;
    # 0, no exporter and no Prometheus (the apps still serve /metrics). See ``metrics``.
    stack_metrics: str = ""

    kafka_heap: str = "1g"
    connect_heap: str = "1g"

    # The topology (stack.topology): ``single`` (one broker, one worker) or ``ha`` (make up
    # TOPOLOGY=ha: three KRaft nodes, two Connect workers). In ``ha`` every client is given the
    # three brokers (KAFKA_BOOTSTRAP_SERVERS becomes KAFKA_HA_BOOTSTRAP_SERVERS) and every REST
    # call may go to either worker (CONNECT_URL becomes CONNECT_HA_URLS); node i listens on
    # the i-th entry of each list.
    stack_topology: Literal["single", "ha"] = "single"
    kafka_ha_bootstrap_servers: str = "127.0.0.1:9192,127.0.0.1:9292,127.0.0.1:9392"
    kafka_ha_controller_ports: str = "9193,9293,9393"
    kafka_ha_metrics_ports: str = "9195,9295,9395"
    connect_ha_urls: str = "http://127.0.0.1:8183,http://127.0.0.1:8283"
    connect_ha_metrics_ports: str = "9194,9294"
    # Five JVMs beside Postgres, the apps and the tests on two cores: smaller heaps than the
    # single node's (RSS per process measured in docs/architecture.md).
    kafka_ha_heap: str = "384m"
    connect_ha_heap: str = "512m"
    # scheduled.rebalance.max.delay.ms: how long a departed worker's task waits for it to come
    # back before another worker runs it. 0: the topology's (Connect's 5 minutes alone, 5 s
    # in ``ha``).
    connect_rebalance_delay_ms: int = 0
    # KIP-618 exactly-once source on the Connect workers (exactly.once.source.support), and
    # the connector registered with exactly.once.support=required.
    connect_exactly_once: bool = False
    # The KRaft cluster's id when every node is formatted apart (compose's containers); natively
    # one is drawn and kept under .stack/conf (stack.jvm.shared_cluster_id).
    kafka_cluster_id: str | None = None
    # In a container: which node or worker of the HA topology this one is (1-based).
    stack_kafka_node: int = 1
    stack_connect_worker: int = 1

    # Where the servers listen. Natively every part binds 127.0.0.1; in a container (compose)
    # 0.0.0.0, so that the other services reach it on the compose network, while compose
    # publishes its ports on the host's 127.0.0.1 only.
    stack_bind_host: str = "127.0.0.1"
    # A container's broker also listens for the host's clients (compose publishes this port)
    # and tells them this address, not its in-network one (KAFKA_BOOTSTRAP_SERVERS).
    kafka_host_listener: str | None = None
    # Prometheus scrapes each job at the host of that name (compose's service names) instead
    # of 127.0.0.1.
    stack_targets_by_service: bool = False

    @model_validator(mode="after")
    def _topology_addresses(self) -> StackSettings:
        """In ``ha`` every client gets all three brokers and both workers; lists of the wrong
        length are refused here, naming the variable, not later where a part first reads them."""
        if self.stack_topology == "ha":
            self.kafka_bootstrap_servers = self.kafka_ha_bootstrap_servers
            self.connect_url = self.connect_ha_urls
            topologies.of(self)
        return self

    @property
    def topology(self) -> topologies.Topology:
        return topologies.of(self)

    @property
    def kafka_host(self) -> str:
        return self.kafka_bootstrap_servers.split(",")[0].rsplit(":", 1)[0]

    @property
    def metrics(self) -> str:
        """``auto``, ``required`` or ``off``, from ``STACK_METRICS`` (make's ``METRICS``)."""
        value = self.stack_metrics.strip().lower()
        for mode, spellings in METRICS_MODES.items():
            if value in spellings:
                return mode
        raise StackError(
            f"METRICS={self.stack_metrics!r}: say 1 (Prometheus required), 0 (none) or "
            "nothing (Prometheus when installed)"
        )

    @property
    def kafka_port(self) -> int:
        return int(self.kafka_bootstrap_servers.split(",")[0].rsplit(":", 1)[1])

    @property
    def connect_host(self) -> str:
        return self.connect_url.split("//", 1)[-1].rsplit(":", 1)[0]

    @property
    def connect_port(self) -> int:
        return int(self.connect_url.rsplit(":", 1)[1].rstrip("/"))

    def need(self, field: str) -> SecretStr:
        """A secret this process was given, or a clear error: in compose each service gets
        only its own (``stack.secrets``), so a verb that needs another's says which."""
        value = getattr(self, field)
        if not isinstance(value, SecretStr):
            raise StackError(f"{field.upper()} is not set: this process was not given it")
        return value

    def kafka_as(self, principal: str) -> KafkaAccess:
        """``admin``, ``connect``, ``tools``, ``monitor`` or ``broker``: that principal's
        client access."""
        password = self.need(f"kafka_{principal}_password")
        return KafkaAccess(self.kafka_bootstrap_servers, principal, password)

    def kafka_group(self, group: str) -> KafkaAccess:
        """A consumer group's own principal (``consumer-<group>``)."""
        return group_access(
            self.kafka_bootstrap_servers, self.need("kafka_consumers_secret"), group
        )

    def connect_rest(self) -> ConnectRest:
        return ConnectRest(
            self.connect_url, self.connect_rest_user, self.need("connect_rest_password")
        )

    def monitor_dsn(self) -> str:
        """libpq conninfo for the metrics exporter's role (``pg_monitor``)."""
        return self.conninfo_for(self.monitor_db_user, self.need("monitor_db_password"))

    def admin_dsn(self, dbname: str | None = None) -> str:
        """libpq conninfo for the superuser; only the bootstrap and tests use it."""
        return self.conninfo_for(self.postgres_user, self.need("postgres_password"), dbname)
