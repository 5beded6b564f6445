"""pytest fixtures for testing handlers with ``consumers.testkit``: add
``pytest_plugins = ["consumers.pytest_plugin"]`` to your conftest.py.

``handler_harness(registration)`` returns a ``Harness`` on the database as the registration's
group role (``ConsumerSettings`` from the environment or ``.env``), closed after the test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from consumers.runtime.registry import Registration
from consumers.settings import ConsumerSettings
from consumers.testkit import Harness


@pytest.fixture
def handler_harness() -> Iterator[Callable[..., Harness]]:
    settings = ConsumerSettings()
    made: list[Harness] = []

    def make(registration: Registration, **options: Any) -> Harness:
        made.append(Harness(settings.conninfo(registration.name), registration, **options))
        return made[-1]

    yield make
    for harness in made:
        harness.close()
