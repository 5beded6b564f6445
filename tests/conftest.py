"""Fixtures shared by every layer. Service fixtures fail loudly when the stack is not up:
``make test`` starts it, and a test that silently skipped would prove nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient

from contract.kafka import KafkaAccess
from producer_app.bootstrap import Producer, bootstrap
from producer_app.entrypoints.api import create_app
from producer_app.settings import ProducerSettings
from stack.health import connect_probe, kafka_probe, postgres_probe
from stack.rest import ConnectRest
from stack.settings import StackSettings

ROOT = Path(__file__).resolve().parent.parent
# The handler test kit's fixtures (handler_harness), as a user's conftest would load them.
pytest_plugins = ["consumers.pytest_plugin"]


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def stack_settings() -> StackSettings:
    return StackSettings(_env_file=ROOT / ".env")


def _require(name: str, reason: str | None) -> None:
    if reason is not None:
        pytest.fail(f"{name} is not up ({reason}); run `make up` or use `make test`", False)


@pytest.fixture(scope="session")
def postgres_up(stack_settings: StackSettings) -> StackSettings:
    _require("postgres", postgres_probe(stack_settings.admin_dsn())())
    return stack_settings


@pytest.fixture(scope="session")
def kafka_up(stack_settings: StackSettings) -> KafkaAccess:
    """Kafka, as the admin principal (tests set up and inspect; the parts use their own)."""
    access = stack_settings.kafka_as("admin")
    _require("kafka", kafka_probe(access)())
    return access


@pytest.fixture(scope="session")
def connect_up(stack_settings: StackSettings, kafka_up: KafkaAccess) -> ConnectRest:
    rest = stack_settings.connect_rest()
    _require("kafka connect", connect_probe(rest)())
    return rest


@pytest.fixture
def admin_conn(postgres_up: StackSettings) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    with psycopg.connect(postgres_up.admin_dsn(), autocommit=True) as conn:
        yield conn


@pytest.fixture(scope="session")
def producer(postgres_up: StackSettings) -> Iterator[Producer]:
    """The producer bootstrapped against the running stack."""
    p = bootstrap(ProducerSettings(_env_file=ROOT / ".env"))
    yield p
    p.close()


@pytest.fixture(scope="session")
def api_key(producer: Producer) -> str:
    """A key of the tests' own API client (``tests``), made as ``make api-key`` makes one."""
    assert producer.keys is not None, "API_KEY_PEPPER is not in .env: run make env"
    return producer.keys.issue("tests")


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture(scope="session")
def seeding(api_key: str) -> Iterator[None]:
    """``python -m producer_app seed`` started by a test (with this environment) places its
    orders as the tests' client, as a reader's ``make seed`` does with their ``API_KEY``."""
    import os

    before = os.environ.get("API_KEY")
    os.environ["API_KEY"] = api_key
    yield
    if before is None:
        del os.environ["API_KEY"]
    else:
        os.environ["API_KEY"] = before


@pytest.fixture(scope="session")
def api(producer: Producer, api_key: str) -> Iterator[TestClient]:
    """The API in process, every request sent with the tests' client key."""
    with TestClient(create_app(producer), headers=bearer(api_key)) as client:
        yield client


@pytest.fixture(scope="module")
def apps_running(stack_settings: StackSettings, connect_up: ConnectRest) -> Iterator[None]:
    """The API and the consumers as ``make up`` leaves them (stack parts with their own
    environments); stopped after the module if started for it."""
    from stack.layout import Layout
    from stack.parts import app_parts

    started = []
    for part in app_parts(Layout(ROOT), stack_settings):
        if part.up()[0]:
            started.append(part)
    yield
    for part in reversed(started):
        part.halt()


@pytest.fixture(scope="session")
def docker_engine() -> Iterator[dict[str, str]]:
    """A Docker engine's client variables (DOCKER_HOST, DOCKER_CONFIG), for the docker tests
    alone: the user's own, or the project's private one started for the session."""
    from tests.engine import provide

    with provide() as client:
        yield client


@pytest.fixture
def apps_stopped_afterwards(stack_settings: StackSettings) -> Iterator[None]:
    """A chaos run starts the API as a real process (and its own consumers, stopped when it
    ends); stop what it started (``tests/e2e/test_chaos.py``, ``tests/ha``)."""
    from stack.layout import Layout
    from stack.parts import app_parts

    layout = Layout(ROOT)
    running_before = {p.name for p in app_parts(layout, stack_settings) if p.pid()}
    yield
    for part in app_parts(layout, stack_settings):
        if part.name not in running_before:
            part.halt()
