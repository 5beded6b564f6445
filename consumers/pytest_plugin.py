"""pytest fixtures for testing handlers with ``consumer_runtime.testkit``: add
``pytest_plugins = ["consumers.pytest_plugin"]`` to your conftest.py.

``handler_harness(registration)`` returns a ``Harness`` on the database as the registration's
group role (``ConsumerSettings`` from the environment or ``.env``), closed after the test."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from consumer_runtime.options import RuntimeOptions
from consumer_runtime.registry import Registration
from consumer_runtime.testkit import Harness
from consumers.settings import ConsumerSettings


@pytest.fixture
def handler_harness() -> Iterator[Callable[..., Harness]]:
    settings = ConsumerSettings()
    made: list[Harness] = []

    def make(registration: Registration, options: RuntimeOptions | None = None) -> Harness:
        conninfo = settings.conninfo(registration.name)
        made.append(Harness(conninfo, registration, options or settings.runtime_options()))
        return made[-1]

    yield make
    for harness in made:
        harness.close()
