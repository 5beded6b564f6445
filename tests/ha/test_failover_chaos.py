"""The failover chaos run, short (``make chaos TOPOLOGY=ha`` runs it with 10,000 orders): 400
orders through the API with retrying clients while every failover kind of the HA topology is
injected at least once (kill -9 of the event topic's leader, of the active controller, of the
task's worker; SIGSTOP of a broker past its session timeout; one broker partitioned from the
other two; two brokers down; a rolling restart). The set-based checker must find nothing lost,
nothing applied twice, zero lag; with two brokers down no write may be acknowledged.

Run by ``make test-ha`` (the HA stack); skipped on the single topology."""

from __future__ import annotations

import pytest

from chaos.quorum import FAILOVER
from chaos.run import run
from stack.rest import ConnectRest
from stack.settings import StackSettings
from tests.conftest import ROOT
from tests.kafka_helpers import register_connector

pytestmark = [
    pytest.mark.ha,
    pytest.mark.skipif(
        StackSettings(_env_file=ROOT / ".env").stack_topology != "ha",
        reason="the HA topology's test: make test-ha",
    ),
]
TWO_DOWN = "two brokers down: writes stop and nothing is lost"


def test_every_failover_kind_under_load_loses_and_doubles_nothing(
    connect_up: ConnectRest, apps_stopped_afterwards: None
) -> None:
    register_connector(connect_up)
    report = run(
        ROOT,
        orders=400,
        clients=4,
        fault_names=list(FAILOVER),
        seed=13,
        pause=(1.0, 3.0),
        spread=240.0,
        hold=12.0,
    )
    print(report.markdown())
    assert not report.not_injected, report.markdown()
    assert report.passed, report.markdown()
    assert report.new_orders == report.client_orders >= 400
    assert set(report.notes) == set(FAILOVER)  # each kind's window and what it hit
    assert all("slot moved 0 bytes" in note for note in report.notes[TWO_DOWN])
