"""Each compose service held to the code its command runs: every variable it is given is read
by the settings that code builds, and that code can start with exactly what it is given (a
secret it needs but is not given, and the job exits 1 in a container; a migration job once
did: compose's `migrate` lacked the consumers' Kafka secret its settings demanded). Read from
the model compose-go loaded (see test_compose_loader), not from the YAML text. That the images
build and the services come up is tests/e2e/test_compose_stack.py's part, on a real engine."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel
from pydantic_settings import BaseSettings

from consumers.migrate import MigrationSettings
from consumers.settings import ConsumerSettings
from contract.tracing import ENDPOINT_VARS
from ops.exporter import ExporterSettings
from producer_app.settings import ProducerSettings
from stack.secrets import SECRET_VARS
from stack.settings import StackSettings

# Per service: the settings its command builds (with the subprocesses it starts) and the
# secrets its verb asks StackSettings for (``need``), i.e. all it may hold and all it must.
NEEDS: dict[str, tuple[tuple[type[BaseSettings], ...], set[str]]] = {
    "postgres": ((StackSettings,), {"POSTGRES_PASSWORD"}),
    "kafka": (
        (StackSettings,),
        {"KAFKA_BROKER_PASSWORD", "KAFKA_CONTROLLER_PASSWORD", "KAFKA_ADMIN_PASSWORD"},
    ),
    "kafka-auth": (
        (StackSettings,),
        {
            "KAFKA_ADMIN_PASSWORD",
            "KAFKA_CONNECT_PASSWORD",
            "KAFKA_CONSUMERS_SECRET",
            "KAFKA_TOOLS_PASSWORD",
            "KAFKA_MONITOR_PASSWORD",
        },
    ),
    # `python -m stack db` runs `producer_app migrate` and `consumers migrate` as children.
    "migrate": (
        (StackSettings, ProducerSettings, MigrationSettings),
        {
            "POSTGRES_PASSWORD",
            "APP_DB_PASSWORD",
            "CONSUMER_DB_PASSWORD",
            "CONSUMER_DB_SECRET",
            "DEBEZIUM_DB_PASSWORD",
            "MONITOR_DB_PASSWORD",
        },
    ),
    "connect": (
        (StackSettings,),
        {"KAFKA_CONNECT_PASSWORD", "CONNECT_REST_PASSWORD", "DEBEZIUM_DB_PASSWORD"},
    ),
    "register": ((StackSettings,), {"CONNECT_REST_PASSWORD"}),
    "api": ((ProducerSettings,), {"APP_DB_PASSWORD", "API_KEY_PEPPER"}),
    "consumers": ((ConsumerSettings,), {"CONSUMER_DB_SECRET", "KAFKA_CONSUMERS_SECRET"}),
    "exporter": ((ExporterSettings,), {"MONITOR_DB_PASSWORD", "KAFKA_MONITOR_PASSWORD"}),
    "prometheus": ((StackSettings,), set()),
}
# The HA topology's form (compose.ha.yaml on top): each node is a `kafka`, each worker a
# `connect`, with the same needs; the one node and worker of the single form are left out.
HA_NEEDS = {
    **{name: needs for name, needs in NEEDS.items() if name not in ("kafka", "connect")},
    **{f"kafka-{i}": NEEDS["kafka"] for i in (1, 2, 3)},
    **{f"connect-{i}": NEEDS["connect"] for i in (1, 2)},
}
FORMS = {"single": NEEDS, "ha": HA_NEEDS}
CASES = [(form, service) for form, needs in FORMS.items() for service in sorted(needs)]
# Read by code rather than by a settings class: the stack's "no .env in a container" switch
# and OpenTelemetry's standard variables (contract/tracing.py).
READ_ELSEWHERE = {"STACK_SECRETS_FROM_ENVIRONMENT", *ENDPOINT_VARS}


def _env(project: dict[str, Any], service: str) -> dict[str, str]:
    return {k: str(v) for k, v in (project["services"][service].get("environment") or {}).items()}


@pytest.fixture
def only(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Replace this process's environment with a service's, as its container sees it."""

    def use(env: dict[str, str]) -> None:
        import os

        for name in list(os.environ):
            monkeypatch.delenv(name)
        for name, value in env.items():
            monkeypatch.setenv(name, value)

    return use


@pytest.fixture
def forms(project: dict[str, Any], ha_project: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {"single": project, "ha": ha_project}


@pytest.mark.parametrize("form", sorted(FORMS))
def test_every_default_service_is_accounted_for(
    forms: dict[str, dict[str, Any]], form: str
) -> None:
    default = {n for n, s in forms[form]["services"].items() if not s.get("profiles")}
    assert default == set(FORMS[form])


@pytest.mark.parametrize(("form", "service"), CASES)
def test_a_service_is_given_only_what_its_settings_read(
    forms: dict[str, dict[str, Any]], form: str, service: str
) -> None:
    classes, _ = FORMS[form][service]
    read = {name.upper() for cls in classes for name in cls.model_fields} | READ_ELSEWHERE
    given = set(_env(forms[form], service))
    assert given <= read, f"{service} is given {sorted(given - read)}, which nothing reads"


@pytest.mark.parametrize(("form", "service"), CASES)
def test_a_service_is_given_exactly_its_own_secrets(
    forms: dict[str, dict[str, Any]], form: str, service: str
) -> None:
    _, secrets = FORMS[form][service]
    given = {name for name in _env(forms[form], service) if name in SECRET_VARS}
    assert given == secrets


@pytest.mark.parametrize(("form", "service"), CASES)
def test_a_service_starts_with_what_it_is_given(
    forms: dict[str, dict[str, Any]], form: str, service: str, only: Any
) -> None:
    """Every settings class its command builds validates from the container's environment
    alone (no .env in a container), and every secret its verb asks for is there."""
    classes, secrets = FORMS[form][service]
    only(_env(forms[form], service))
    built: list[BaseModel] = [cls(_env_file=None) for cls in classes]
    stack = next((b for b in built if isinstance(b, StackSettings)), None)
    for secret in secrets:
        if stack is not None:
            stack.need(secret.lower())


@pytest.mark.parametrize("form", sorted(FORMS))
def test_no_service_but_the_bootstrap_and_postgres_holds_the_superuser(
    forms: dict[str, dict[str, Any]], form: str
) -> None:
    holders = {n for n in FORMS[form] if "POSTGRES_PASSWORD" in _env(forms[form], n)}
    assert holders == {"migrate", "postgres"}
