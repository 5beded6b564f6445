"""compose.yaml read as text, for what a run would not show: nothing pulled, nothing BuildKit-only,
ports on loopback, no secret in a committed file, the connector's contract. That it runs is
tests/e2e/test_compose_stack.py's part, on a real engine (make docker-engine)."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import yaml

from contract import headers as h
from stack import dbinit, jvm
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


def test_the_default_stack_pulls_no_image(compose: dict[str, Any]) -> None:
    """Every service outside a profile runs an image this repository builds: one service
    builds each image, the others name it and never pull (no registry may be reachable)."""
    builders: dict[str, str] = {}
    for name, service in compose["services"].items():
        if service.get("profiles"):
            continue
        image = service["image"]
        assert image.startswith("outbox/"), f"{name} runs {image}, which is not built here"
        if "build" in service:
            assert image not in builders, f"{image} is built by {builders[image]} and {name}"
            builders[image] = name
            assert service["build"]["context"] == "."
            assert service["build"]["network"] == "host"
        else:
            assert service.get("pull_policy") == "never", f"{name} would pull {image}"
    assert set(builders) == {"outbox/app:dev", "outbox/jvm:dev", "outbox/postgres:dev",
                             "outbox/prometheus:dev"}  # fmt: skip
    targets = {s["build"]["target"] for s in compose["services"].values() if "build" in s}
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert targets <= set(re.findall(r"^FROM \S+ AS (\w+)$", dockerfile, re.M))


def test_the_jvm_image_runs_the_jars_the_native_stack_pins(pom_versions: dict[str, str]) -> None:
    """One set of versions: the image fetches the jars with the same Maven project."""
    assert "mvn -B -q -f /app/stack/jars/pom.xml package" in (ROOT / "Dockerfile").read_text()
    assert pom_versions["kafka.version"] == "4.3.0"
    assert pom_versions["debezium.version"] == "3.6.1.Final"


def test_the_dockerfile_needs_no_buildkit(compose: dict[str, Any]) -> None:
    """The engine's classic builder reads it: no heredoc, no frontend from a registry."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert not re.search(r"^#\s*syntax\s*=", dockerfile, re.M)
    assert not re.search(r"<<-?\s*['\"]?\w+", dockerfile)
    assert "--mount" not in dockerfile


def test_the_build_context_leaves_the_engine_and_the_data_out() -> None:
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".stack", ".venv", ".git", ".env"} <= ignored


def test_the_app_image_holds_every_package_the_project_ships() -> None:
    """The app image runs from /app without installing the project, so each top-level package
    pyproject.toml ships must be copied in by name (consumer_runtime once was not: every
    service's ``python -m consumers`` died with ModuleNotFoundError)."""
    found = re.search(r"include = \[(.*?)\]", (ROOT / "pyproject.toml").read_text())
    assert found, "pyproject.toml lists no packages"
    shipped = {name.strip(' "*') for name in found[1].split(",")}
    app = (ROOT / "Dockerfile").read_text().split("FROM python AS app", 1)[1].split("FROM ", 1)[0]
    copied = set(re.findall(r"^COPY (\w+) \./\1$", app, re.M))
    assert shipped - copied == set()


def test_the_parts_start_through_the_native_launcher(compose: dict[str, Any]) -> None:
    """Postgres, Kafka, Connect and Prometheus run `python -m stack serve PART` (the image's
    entrypoint), so their configuration is rendered by the native stack's own code, and their
    health is the probe `make up` waits on (a Python check: it inherits no JVM option)."""
    services = compose["services"]
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert dockerfile.count('ENTRYPOINT ["python", "-m", "stack"]') == 3
    for part in ("kafka", "connect"):
        assert services[part]["command"] == ["serve", part]
    for part in ("postgres", "kafka", "connect", "prometheus"):
        assert services[part]["healthcheck"]["test"] == [
            "CMD", "python", "-m", "stack", "probe", part
        ]  # fmt: skip
        env = services[part].get("environment") or {}
        assert not {"KAFKA_OPTS", "JAVA_TOOL_OPTIONS", "KAFKA_HEAP_OPTS"} & set(env), part


def test_host_ports_match_the_native_defaults(compose: dict[str, Any]) -> None:
    settings = _defaults()
    services = compose["services"]
    assert (
        f"127.0.0.1:${{POSTGRES_PORT:-{settings.postgres_port}}}:5432"
        in services["postgres"]["ports"]
    )
    kafka = f"${{KAFKA_PORT:-{settings.kafka_port}}}"
    assert f"127.0.0.1:{kafka}:{kafka}" in services["kafka"]["ports"]
    assert services["kafka"]["environment"]["KAFKA_HOST_LISTENER"] == f"127.0.0.1:{kafka}"
    assert (
        f"127.0.0.1:${{CONNECT_PORT:-{settings.connect_port}}}:8083" in services["connect"]["ports"]
    )
    assert f"127.0.0.1:${{API_PORT:-{settings.api_port}}}:8000" in services["api"]["ports"]


def test_every_published_port_is_on_localhost_only(compose: dict[str, Any]) -> None:
    published = [
        (name, str(port))
        for name, service in compose["services"].items()
        for port in service.get("ports", [])
    ]
    assert published, "compose publishes nothing"
    for name, port in published:
        assert port.startswith("127.0.0.1:"), f"{name} publishes {port} on every interface"


def test_connector_env_refs_are_provided_by_both_stacks(
    compose: dict[str, Any], connector: dict[str, str]
) -> None:
    refs = {m for value in connector.values() for m in ENV_REF.findall(value)}
    assert refs >= {"DEBEZIUM_DB_PASSWORD", "DEBEZIUM_DB_USER", "POSTGRES_HOST"}
    assert refs <= set(jvm.connect_env(_defaults()))


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
