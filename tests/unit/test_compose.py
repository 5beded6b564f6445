"""compose.yaml cannot run here (no Docker engine), so this test holds it to the native stack:
same versions, ports, variable names, connector contract; no secret in a committed file."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import yaml

from contract import headers as h
from stack import dbinit, jvm, postgres
from stack.secrets import SECRET_VARS
from stack.settings import StackSettings

ROOT = Path(__file__).resolve().parents[2]
ENV_REF = re.compile(r"\$\{env:([A-Z0-9_]+)\}")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def pom_versions() -> dict[str, str]:
    ns = {"m": "http://maven.apache.org/POM/4.0.0"}
    pom = ET.parse(ROOT / "stack/jars/pom.xml")  # noqa: S314 (our own committed file)
    props = pom.getroot().find("m:properties", ns)
    assert props is not None
    return {el.tag.split("}")[1]: el.text or "" for el in props}


@pytest.fixture(scope="module")
def connector() -> dict[str, str]:
    return json.loads((ROOT / "connectors/orders-outbox.json").read_text())["config"]  # type: ignore[no-any-return]


def _defaults() -> StackSettings:
    secrets: dict[str, Any] = {name.lower(): "x" for name in SECRET_VARS}
    return StackSettings(_env_file=None, **secrets)


def test_images_pin_the_versions_of_the_native_jars(
    compose: dict[str, Any], pom_versions: dict[str, str]
) -> None:
    services = compose["services"]
    assert services["kafka"]["image"] == f"apache/kafka:{pom_versions['kafka.version']}"
    assert services["connect"]["image"] == (
        f"quay.io/debezium/connect:{pom_versions['debezium.version']}"
    )
    assert pom_versions["kafka.version"] == "4.3.0"
    assert pom_versions["debezium.version"] == "3.6.1.Final"


def test_host_ports_match_the_native_defaults(compose: dict[str, Any]) -> None:
    settings = _defaults()
    services = compose["services"]
    assert f"127.0.0.1:{settings.postgres_port}:5432" in services["postgres"]["ports"]
    assert f"127.0.0.1:{settings.kafka_port}:9092" in services["kafka"]["ports"]
    assert f"127.0.0.1:{settings.connect_port}:8083" in services["connect"]["ports"]
    assert f"127.0.0.1:{settings.api_port}:8000" in services["api"]["ports"]


def test_every_published_port_is_on_localhost_only(compose: dict[str, Any]) -> None:
    published = [
        (name, str(port))
        for name, service in compose["services"].items()
        for port in service.get("ports", [])
    ]
    assert published, "compose publishes nothing"
    for name, port in published:
        assert port.startswith("127.0.0.1:"), f"{name} publishes {port} on every interface"


# The secrets each service may be given (stack.secrets.SECRET_VARS names them all).
OWN_SECRETS = {
    "postgres": {"POSTGRES_PASSWORD"},
    "kafka": {"KAFKA_BROKER_PASSWORD", "KAFKA_CONTROLLER_PASSWORD", "KAFKA_ADMIN_PASSWORD"},
    "kafka-auth": {
        "KAFKA_ADMIN_PASSWORD",
        "KAFKA_CONNECT_PASSWORD",
        "KAFKA_CONSUMERS_SECRET",
        "KAFKA_TOOLS_PASSWORD",
        "KAFKA_MONITOR_PASSWORD",
    },
    "connect": {"DEBEZIUM_DB_PASSWORD", "KAFKA_CONNECT_PASSWORD", "CONNECT_REST_PASSWORD"},
    "migrate": {
        "POSTGRES_PASSWORD",
        "APP_DB_PASSWORD",
        "CONSUMER_DB_PASSWORD",
        "DEBEZIUM_DB_PASSWORD",
        "MONITOR_DB_PASSWORD",
    },
    "register": {"CONNECT_REST_PASSWORD"},
    "api": {"APP_DB_PASSWORD"},
    "consumers": {"CONSUMER_DB_PASSWORD", "KAFKA_CONSUMERS_SECRET"},
    "jmx-agent": set(),
    "exporter": {"MONITOR_DB_PASSWORD", "KAFKA_MONITOR_PASSWORD"},
    "prometheus": set(),
    "grafana": {"GRAFANA_ADMIN_PASSWORD"},
    "jaeger": set(),
}


def test_each_service_gets_only_its_own_secrets(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == set(OWN_SECRETS)
    for name, service in services.items():
        assert "env_file" not in service, f"{name} reads every secret from an env_file"
        given = {
            var
            for var in SECRET_VARS
            for key, value in (service.get("environment") or {}).items()
            if var in str(value) or key == var
        }
        assert given == OWN_SECRETS[name], name
    superuser = "${POSTGRES_PASSWORD"
    holders = [n for n, s in services.items() if superuser in str(s.get("environment"))]
    assert sorted(holders) == ["migrate", "postgres"]


def test_both_stacks_authenticate_kafka_and_connect(compose: dict[str, Any]) -> None:
    connect = compose["services"]["connect"]["environment"]
    for prefix in ("CONNECT_", "CONNECT_PRODUCER_", "CONNECT_CONSUMER_", "CONNECT_ADMIN_"):
        assert connect[f"{prefix}SECURITY_PROTOCOL"] == "SASL_PLAINTEXT"
        assert connect[f"{prefix}SASL_MECHANISM"] == "SCRAM-SHA-512"
    extension = "org.apache.kafka.connect.rest.basic.auth.extension.BasicAuthSecurityRestExtension"
    assert connect["CONNECT_REST_EXTENSION_CLASSES"] == extension
    native = (ROOT / "stack/conf/connect-distributed.properties").read_text()
    assert f"rest.extension.classes={extension}" in native
    allow = "config.providers.env.param.allowlist.pattern="
    native_allow = next(line for line in native.splitlines() if line.startswith(allow))
    assert native_allow.split("=", 1)[1].replace("$$", "$") == connect[
        "CONNECT_CONFIG_PROVIDERS_ENV_PARAM_ALLOWLIST_PATTERN"
    ].replace("$$", "$")
    server = (ROOT / "stack/conf/server.properties").read_text()
    assert "allow.everyone.if.no.acl.found=false" in server
    assert "PLAINTEXT:PLAINTEXT" not in server
    assert compose["services"]["kafka"]["entrypoint"] == ["/stack/docker/kafka.sh"]


def test_connector_env_refs_are_provided_by_both_stacks(
    compose: dict[str, Any], connector: dict[str, str]
) -> None:
    refs = {m for value in connector.values() for m in ENV_REF.findall(value)}
    assert refs >= {"DEBEZIUM_DB_PASSWORD", "DEBEZIUM_DB_USER", "POSTGRES_HOST"}
    assert refs <= set(compose["services"]["connect"]["environment"])
    assert refs <= set(jvm.connect_env(_defaults()))


def test_both_workers_resolve_secrets_with_the_env_config_provider(
    compose: dict[str, Any],
) -> None:
    env = compose["services"]["connect"]["environment"]
    provider = "org.apache.kafka.common.config.provider.EnvVarConfigProvider"
    assert env["CONNECT_CONFIG_PROVIDERS"] == "env"
    assert env["CONNECT_CONFIG_PROVIDERS_ENV_CLASS"] == provider
    native = (ROOT / "stack/conf/connect-distributed.properties").read_text()
    assert f"config.providers.env.class={provider}" in native


def test_postgres_runs_with_logical_wal_in_both(compose: dict[str, Any]) -> None:
    assert "wal_level=logical" in compose["services"]["postgres"]["command"]
    assert postgres.SERVER_OPTIONS["wal_level"] == "logical"
    for option in ("track_commit_timestamp", "shared_preload_libraries"):
        value = postgres.SERVER_OPTIONS[option]
        assert f"{option}={value}" in compose["services"]["postgres"]["command"]


def test_every_awaited_service_has_a_healthcheck(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name, service in services.items():
        for dep, cond in (service.get("depends_on") or {}).items():
            if cond["condition"] == "service_healthy":
                assert "healthcheck" in services[dep], f"{name} waits on {dep} without a check"


def test_no_password_is_written_in_compose_or_connector(
    compose: dict[str, Any], connector: dict[str, str]
) -> None:
    for name, service in compose["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if "PASSWORD" in key:
                assert str(value).startswith("${"), f"{name}.{key} holds a literal secret"
    for key, value in connector.items():
        if "password" in key:
            assert ENV_REF.fullmatch(value), f"{key} must be an ${{env:...}} reference"


def test_connector_contract(connector: dict[str, str]) -> None:
    assert connector["plugin.name"] == "pgoutput"
    assert connector["publication.name"] == dbinit.PUBLICATION
    assert connector["publication.autocreate.mode"] == "disabled"
    assert set(connector["table.include.list"].split(",")) == set(dbinit.CDC_TABLES)
    assert connector["snapshot.mode"] == "no_data"
    assert int(connector["heartbeat.interval.ms"]) > 0
    assert connector["key.converter"].endswith("StringConverter")
    assert connector["value.converter"] == "io.debezium.converters.BinaryDataConverter"
    assert connector["value.converter.delegate.converter.type"].endswith("JsonConverter")
    assert connector["transforms.outbox.type"] == "io.debezium.transforms.outbox.EventRouter"
    assert connector["transforms.outbox.predicate"] == "isOutboxTable"
    placed = connector["transforms.outbox.table.fields.additional.placement"]
    assert {p.split(":")[2] for p in placed.split(",")} == {
        h.EVENT_TYPE,
        h.SCHEMA_VERSION,
        h.IDEMPOTENCY_KEY,
        h.TRACEPARENT,
    }
