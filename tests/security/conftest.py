"""Fixtures on the real stack: a bootstrapped producer and its HTTP API."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from producer_app.bootstrap import Producer, bootstrap
from producer_app.entrypoints.api import create_app
from producer_app.settings import ProducerSettings
from stack.settings import StackSettings
from tests.conftest import ROOT


@pytest.fixture(scope="session")
def producer(postgres_up: StackSettings) -> Iterator[Producer]:
    p = bootstrap(ProducerSettings(_env_file=ROOT / ".env"))
    yield p
    p.close()


@pytest.fixture(scope="session")
def api(producer: Producer) -> Iterator[TestClient]:
    with TestClient(create_app(producer)) as client:
        yield client
