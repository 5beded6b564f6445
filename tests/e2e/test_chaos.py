"""The short chaos run inside ``make test``: 300 orders through the API with retrying
clients while a crash-grade subset of the fault kinds is injected (each at least once, one
overlap), at random moments; the set-based checker must find nothing lost, nothing applied
twice, exactly the poison dead-lettered, zero lag. ``make chaos`` runs every kind."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from chaos.run import FAULTS, run
from stack.layout import Layout
from stack.parts import app_parts
from stack.rest import ConnectRest
from stack.settings import StackSettings
from tests.conftest import ROOT
from tests.kafka_helpers import register_connector

pytestmark = pytest.mark.e2e

SUBSET = [
    "kill -9 kafka",
    "postgres crash (immediate stop then recovery)",
    "kill -9 consumer between commits",
    "SIGSTOP a consumer past its session timeout",
    "partition: consumers from kafka",
    "partition: consumers from postgres",
    "postgres out of disk (notifications)",
    "odd records: null + tombstone + oversized",
    "poison messages",
    "handler past its bound",
    "overlap: kill -9 kafka + postgres crash",
]


@pytest.fixture
def apps_stopped_afterwards(stack_settings: StackSettings) -> Iterator[None]:
    """The run starts the API as a real process (and its own consumers, stopped when it
    ends); stop what it started."""
    layout = Layout(ROOT)
    running_before = {p.name for p in app_parts(layout, stack_settings) if p.pid()}
    yield
    for part in app_parts(layout, stack_settings):
        if part.name not in running_before:
            part.halt()


def test_short_chaos_run_loses_nothing_and_applies_nothing_twice(
    connect_up: ConnectRest, apps_stopped_afterwards: None
) -> None:
    assert set(SUBSET) <= set(FAULTS)
    register_connector(connect_up)
    report = run(
        ROOT,
        orders=300,
        clients=6,
        fault_names=SUBSET,
        seed=11,
        pause=(1.0, 3.0),
        spread=90.0,
        hold=6.0,
    )
    print(report.markdown())
    assert not report.not_injected
    assert report.passed, report.markdown()
    assert report.new_orders == report.client_orders >= 250  # a few may give up, none twice
    assert report.client_retries > 0  # the faults did hit the clients while they were writing
    assert report.poison_injected == 6  # 3 poison + null, tombstone, oversized
    assert all(g.dead_lettered == 6 for g in report.verdict.groups.values())
