"""The API's /metrics against the real database: events counted once committed, replays,
conflicts, requests by route template and status; valid Prometheus exposition."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from producer_app.bootstrap import bootstrap
from producer_app.entrypoints.api import create_app
from producer_app.entrypoints.metrics import ApiMetrics
from producer_app.settings import ProducerSettings
from stack.settings import StackSettings
from tests import factories
from tests.conftest import ROOT, bearer

pytestmark = pytest.mark.integration


@pytest.fixture
def measured(
    postgres_up: StackSettings, api_key: str
) -> Iterator[tuple[TestClient, CollectorRegistry]]:
    registry = CollectorRegistry()
    metrics = ApiMetrics(registry)
    producer = bootstrap(ProducerSettings(_env_file=ROOT / ".env"), written=metrics.written)
    with TestClient(create_app(producer, metrics), headers=bearer(api_key)) as client:
        yield client, registry
    producer.close()


def promtool_check(exposition: str) -> None:
    """Prometheus' own linter on an exposition (Debian's prometheus package brings it)."""
    promtool = shutil.which("promtool")
    assert promtool, "promtool not found: apt-get install prometheus (.ci/run does)"
    checked = subprocess.run(
        [promtool, "check", "metrics"], input=exposition, capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_requests_events_replays_and_conflicts_are_counted(
    measured: tuple[TestClient, CollectorRegistry],
) -> None:
    api, registry = measured
    key = {"Idempotency-Key": f"metrics-{uuid.uuid4()}"}
    body = factories.order_payload()
    order = api.post("/orders", json=body, headers=key).json()
    assert api.post("/orders", json=body, headers=key).status_code == 201  # a replay
    assert api.post(f"/orders/{order['id']}/cancel", json={"reason": "r"}).status_code == 200
    assert api.post(f"/orders/{order['id']}/cancel", json={"reason": "r"}).status_code == 409
    assert api.post("/orders", json={"currency": "EUR"}).status_code == 422  # writes nothing

    def value(name: str, **labels: str) -> float:
        return registry.get_sample_value(name, labels) or 0.0

    assert value("outbox_api_events_written_total", event_type="OrderPlaced") == 1
    assert value("outbox_api_events_written_total", event_type="OrderCancelled") == 1
    assert value("outbox_api_idempotent_replays_total", route="/orders") == 1
    assert value("outbox_api_conflicts_total", route="/orders/{order_id}/cancel") == 1
    count = "http_server_request_duration_seconds_count"
    assert value(count, method="POST", route="/orders", status="201") == 2
    assert value(count, method="POST", route="/orders", status="422") == 1
    assert value(count, method="POST", route="/orders/{order_id}/cancel", status="409") == 1

    exposition = api.get("/metrics")
    assert exposition.status_code == 200
    promtool_check(exposition.text)
