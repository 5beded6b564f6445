"""Each compose service held to its image's contract (the facts and their sources are in
docs/images.md): every variable it sets is one the image, or our script in front of it,
reads; and the settings the native stack relies on are present in the compose form, equal.
Read from the model compose-go loaded (see test_compose_loader), not from the YAML text."""

from __future__ import annotations

import re
import string
from pathlib import Path
from typing import Any

import pytest

from consumers.settings import ConsumerSettings
from contract.tracing import ENDPOINT_VARS
from producer_app.settings import ProducerSettings
from stack import postgres
from stack.settings import StackSettings
from tests.conftest import ROOT

POSTGRES_IMAGE = {
    "POSTGRES_USER",
    "POSTGRES_PASSWORD",
    "POSTGRES_PASSWORD_FILE",
    "POSTGRES_DB",
    "POSTGRES_INITDB_ARGS",
    "POSTGRES_INITDB_WALDIR",
    "POSTGRES_HOST_AUTH_METHOD",
    "PGDATA",
}
KAFKA_RUN_CLASS = {
    "KAFKA_HEAP_OPTS",
    "KAFKA_OPTS",
    "KAFKA_JVM_PERFORMANCE_OPTS",
    "KAFKA_LOG4J_OPTS",
}
# debezium/container-images connect-base/3.6/docker-entrypoint.sh: the variables it reads
# besides CONNECT_* (each of which becomes a worker property), and the property each sets.
CONNECT_IMAGE = {
    "BOOTSTRAP_SERVERS": "bootstrap.servers",
    "GROUP_ID": "group.id",
    "CONFIG_STORAGE_TOPIC": "config.storage.topic",
    "OFFSET_STORAGE_TOPIC": "offset.storage.topic",
    "STATUS_STORAGE_TOPIC": "status.storage.topic",
    "KEY_CONVERTER": "key.converter",
    "VALUE_CONVERTER": "value.converter",
    "OFFSET_FLUSH_INTERVAL_MS": "offset.flush.interval.ms",
    "OFFSET_FLUSH_TIMEOUT_MS": "offset.flush.timeout.ms",
    "HEAP_OPTS": "",
    "SENSITIVE_PROPERTIES": "",
    "KAFKA_OPTS": "",
    "LOG_LEVEL": "",
}
# Native worker properties the image derives itself (addresses, ports, the plugin folder).
CONNECT_OWN = {"listeners", "rest.advertised.host.name", "rest.advertised.port", "plugin.path"}
# What EnvVarConfigProvider resolves in connectors/*.json (the allowlist).
PROVIDED = {
    "POSTGRES_HOST",
    "POSTGRES_PORT",
    "POSTGRES_DB",
    "DEBEZIUM_DB_USER",
    "DEBEZIUM_DB_PASSWORD",
}


def _script_reads(path: Path) -> set[str]:
    return set(re.findall(r"\$\{?([A-Z][A-Z0-9_]+)", path.read_text()))


def _env(project: dict[str, Any], service: str) -> dict[str, str]:
    return {k: str(v) for k, v in (project["services"][service].get("environment") or {}).items()}


def _settings_vars(*classes: type[Any]) -> set[str]:
    return {name.upper() for cls in classes for name in cls.model_fields}


def test_postgres_sets_only_what_its_image_reads(project: dict[str, Any]) -> None:
    assert set(_env(project, "postgres")) <= POSTGRES_IMAGE
    command = " ".join(project["services"]["postgres"]["command"])
    for option, value in postgres.SERVER_OPTIONS.items():
        if option == "listen_addresses":
            continue  # per runner: 127.0.0.1 natively; the container's network, published on it
        assert f"{option}={value}" in command, option


def test_kafka_sets_only_what_its_entrypoint_and_kafka_read(project: dict[str, Any]) -> None:
    service = project["services"]["kafka"]
    script = ROOT / "stack/docker/kafka.sh"
    assert service["entrypoint"] == ["/stack/docker/kafka.sh"]
    assert set(_env(project, "kafka")) <= _script_reads(script) | KAFKA_RUN_CLASS
    # Every placeholder of the shared broker config is filled by the script.
    placeholders = set(
        re.findall(r"\$\{(\w+)\}", (ROOT / "stack/conf/server.properties").read_text())
    )
    filled = set(re.findall(r"s\|\\\$\{(\w+)\}\|", script.read_text()))
    assert placeholders == filled, placeholders ^ filled


def _native_connect() -> dict[str, str]:
    text = (ROOT / "stack/conf/connect-distributed.properties").read_text()
    rendered = string.Template(text).safe_substitute(kafka_login="")
    return dict(
        line.split("=", 1)
        for line in rendered.splitlines()
        if "=" in line and not line.startswith("#")
    )


def _connect_properties(env: dict[str, str]) -> dict[str, str]:
    """The worker properties the image writes from this environment."""
    props = {
        k[len("CONNECT_") :].lower().replace("_", "."): v
        for k, v in env.items()
        if k.startswith("CONNECT_")
    }
    props.update({prop: env[var] for var, prop in CONNECT_IMAGE.items() if prop and var in env})
    return props


def test_connect_sets_only_what_its_image_and_our_script_read(project: dict[str, Any]) -> None:
    env = _env(project, "connect")
    script = _script_reads(ROOT / "stack/docker/connect.sh")
    unread = {
        k
        for k in env
        if not k.startswith("CONNECT_") and k not in CONNECT_IMAGE and k not in script
    } - PROVIDED
    assert unread == set(), "set but read by nobody"
    # The image overwrites these CONNECT_ names from its own variables: set there or lost.
    for var, prop in CONNECT_IMAGE.items():
        if prop:
            assert f"CONNECT_{prop.upper().replace('.', '_')}" not in env, var
    assert not [k for k in script if k.startswith("CONNECT_")], "would become a logged property"


def test_connect_runs_with_the_native_workers_properties(project: dict[str, Any]) -> None:
    native = {k: v for k, v in _native_connect().items() if k not in CONNECT_OWN}
    compose = _connect_properties(_env(project, "connect"))
    native["bootstrap.servers"] = compose["bootstrap.servers"]  # the address differs by design
    native = {k: v.replace("$$", "$") for k, v in native.items()}
    assert {k: compose.get(k) for k in native} == native
    extra = set(compose) - set(native)
    prefixes = ("", "producer.", "consumer.", "admin.")
    login = {
        f"{p}{k}"
        for p in prefixes
        for k in ("security.protocol", "sasl.mechanism", "sasl.jaas.config")
    }
    assert extra <= login, extra  # compose sets nothing the native worker does not


@pytest.mark.parametrize(
    ("service", "settings"),
    [
        ("migrate", (StackSettings,)),
        ("kafka-auth", (StackSettings,)),
        ("register", (StackSettings,)),
        ("api", (ProducerSettings,)),
        ("consumers", (ConsumerSettings,)),
        ("exporter", (StackSettings,)),
    ],
)
def test_our_image_is_given_only_variables_its_settings_read(
    project: dict[str, Any], service: str, settings: tuple[type[Any], ...]
) -> None:
    env = set(_env(project, service))
    # OpenTelemetry's standard variables are read by its SDK (contract/tracing.py).
    read = _settings_vars(*settings) | {"STACK_SECRETS_FROM_ENVIRONMENT", *ENDPOINT_VARS}
    assert env <= read, env - read
