"""The short chaos run inside ``make test``: 300 orders through the API with retrying
clients while every kind of fault is injected once, at random moments; then the checker must
find nothing lost, nothing applied twice, exactly the poison dead-lettered, zero lag."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from chaos.faults import FAULTS
from chaos.run import run
from stack.layout import Layout
from stack.parts import app_parts
from stack.settings import StackSettings
from tests.conftest import ROOT
from tests.kafka_helpers import register_connector

pytestmark = pytest.mark.e2e


@pytest.fixture
def apps_stopped_afterwards(stack_settings: StackSettings) -> Iterator[None]:
    """The run starts the API and consumers as real processes; stop what it started."""
    layout = Layout(ROOT)
    running_before = {p.name for p in app_parts(layout, stack_settings) if p.pid()}
    env_before = os.environ.get("FAULT_KILL_FILE")
    yield
    if env_before is None:
        os.environ.pop("FAULT_KILL_FILE", None)
    for part in app_parts(layout, stack_settings):
        if part.name not in running_before:
            part.halt()


def test_short_chaos_run_loses_nothing_and_applies_nothing_twice(
    connect_up: str, apps_stopped_afterwards: None
) -> None:
    register_connector(connect_up)
    # Orders spread over a minute while the seven faults run (each takes 1-20 s to recover).
    report = run(
        ROOT,
        orders=300,
        clients=6,
        fault_names=list(FAULTS),
        seed=11,
        pause=(1.0, 3.0),
        spread=60.0,
    )
    print(report.markdown())
    assert {i.fault for i in report.injections} == set(FAULTS)
    assert report.passed, report.markdown()
    assert report.new_orders == report.client_orders >= 250  # a few may give up, none twice
    assert report.client_retries > 0  # the faults did hit the clients while they were writing
