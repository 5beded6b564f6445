"""The short chaos run inside ``make test``: 300 orders through the API with retrying
clients while a crash-grade subset of the fault kinds is injected (each at least once, one
overlap), at random moments; the set-based checker must find nothing lost, nothing applied
twice, exactly the poison dead-lettered, zero lag. ``make chaos`` runs every kind."""

from __future__ import annotations

import pytest

from chaos.run import FAULTS, run
from stack.rest import ConnectRest
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
