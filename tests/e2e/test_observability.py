"""Observability of the running pipeline, as ``make up`` leaves it: every metrics endpoint
answers and passes ``promtool check metrics``; the consumers' handled count follows the events
the API committed, group by group; the running Prometheus scrapes every target and agrees;
the consumers' health probes answer."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from consumers.handlers import REGISTRY
from stack.monitoring import jobs
from stack.settings import StackSettings
from tests import factories
from tests.conftest import bearer
from tests.integration.test_api_metrics import promtool_check

pytestmark = pytest.mark.e2e


def get(url: str, timeout: float = 10) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:  # noqa: S310 - loopback URLs
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def post(url: str, body: dict[str, Any], key: str, **headers: str) -> dict[str, Any]:
    request = urllib.request.Request(  # noqa: S310 - loopback URL
        url,
        json.dumps(body).encode(),
        {"Content-Type": "application/json", **bearer(key), **headers},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as r:  # noqa: S310
        answer: dict[str, Any] = json.loads(r.read())
        return answer


def samples(url: str, name: str, by: str) -> dict[str, float]:
    """Sum of ``name``'s samples per value of label ``by``, scraped from ``url``."""
    status, text = get(url)
    assert status == 200, (url, status)
    totals: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name:
                key = s.labels.get(by, "")
                totals[key] = totals.get(key, 0.0) + s.value
    return totals


def until(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline, last = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.5)
    raise AssertionError(f"{what} not within {timeout}s (last: {last!r})")


def prometheus_query(settings: StackSettings, promql: str) -> list[dict[str, Any]]:
    url = f"http://127.0.0.1:{settings.prometheus_port}/api/v1/query?" + urllib.parse.urlencode(
        {"query": promql}
    )
    status, text = get(url)
    assert status == 200, text
    result: list[dict[str, Any]] = json.loads(text)["data"]["result"]
    return result


def test_every_endpoint_answers_and_passes_promtool(
    apps_running: None, stack_settings: StackSettings
) -> None:
    for job, port in jobs(stack_settings).items():
        try:
            status, text = get(f"http://127.0.0.1:{port}/metrics", timeout=30)
        except TimeoutError as exc:
            raise AssertionError(f"{job} (:{port}) did not answer /metrics in 30 s") from exc
        assert status == 200, job
        if job != "prometheus":  # Prometheus' own metrics are its business
            promtool_check(text)
    # Debezium registers its streaming MBeans only once the task streams: a test before this
    # one (the exactly-once source's) restarts the workers, so the task may still be starting.
    connect_metrics = f"http://127.0.0.1:{stack_settings.connect_metrics_port}/metrics"
    names = ("debezium_streaming_connected", "kafka_connect_task_status")

    def exported() -> list[str]:
        text = get(connect_metrics)[1]
        return [] if any(n not in text for n in names) else list(names)

    until(exported, 120, f"{' and '.join(names)} on Connect's /metrics")
    # What the Kafka alerts read (monitoring/alerts.yml), named as the JMX rules name it.
    status, text = get(f"http://127.0.0.1:{stack_settings.kafka_metrics_port}/metrics")
    for name in (
        "kafka_server_replicamanager_underreplicatedpartitions",
        "kafka_server_replicamanager_underminisrpartitioncount",
        "kafka_server_replicamanager_isr_shrinks_total",
        "kafka_controller_kafkacontroller_offlinepartitionscount",
    ):
        assert f"\n{name}" in text, name


def test_handled_counts_follow_committed_events_and_prometheus_agrees(
    apps_running: None, stack_settings: StackSettings, api_key: str
) -> None:
    api = f"http://127.0.0.1:{stack_settings.api_port}"
    consumers = f"http://127.0.0.1:{stack_settings.consumer_metrics_port}/metrics"
    handled_name, written_name = "outbox_consumer_messages_total", "outbox_api_events_written_total"

    def handled() -> dict[str, float]:
        return {
            g: samples_for(consumers, handled_name, group=g, outcome="handled") for g in REGISTRY
        }

    def written() -> float:
        return sum(samples(f"{api}/metrics", written_name, "event_type").values())

    before_handled, before_written = handled(), written()
    orders = [post(f"{api}/orders", factories.order_payload(), api_key) for _ in range(20)]
    for order in orders[:5]:
        post(f"{api}/orders/{order['id']}/cancel", {"reason": "observability test"}, api_key)
    events = written() - before_written
    assert events == 25  # counted once each, after its commit

    until(
        lambda: all(handled()[g] - before_handled[g] == events for g in REGISTRY),
        90,
        "every group's handled count up by the events committed",
    )
    after = handled()

    def targets_up() -> bool:
        status, text = get(f"http://127.0.0.1:{stack_settings.prometheus_port}/api/v1/targets")
        assert status == 200, text
        active = json.loads(text)["data"]["activeTargets"]
        return {t["labels"]["job"] for t in active if t["health"] == "up"} == set(
            jobs(stack_settings)
        )

    until(targets_up, 60, "every Prometheus target up")

    def prometheus_agrees() -> bool:
        rows = prometheus_query(
            stack_settings, f'sum by (group) ({handled_name}{{outcome="handled"}})'
        )
        seen = {r["metric"].get("group"): float(r["value"][1]) for r in rows}
        return all(seen.get(g) == after[g] for g in REGISTRY)

    until(prometheus_agrees, 60, "Prometheus' handled counts equal the consumers'")


def samples_for(url: str, name: str, **labels: str) -> float:
    status, text = get(url)
    assert status == 200, (url, status)
    total = 0.0
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                total += s.value
    return total


def test_the_consumers_health_probes_answer(
    apps_running: None, stack_settings: StackSettings
) -> None:
    base = f"http://127.0.0.1:{stack_settings.consumer_metrics_port}"
    status, text = get(f"{base}/health/live")
    assert status == 200, text
    assert json.loads(text)["processes"] == len(REGISTRY)
    status, text = until(lambda: (r := get(f"{base}/health/ready"))[0] == 200 and r, 60, "ready")
    assert json.loads(text)["ready_processes"] == {g: 1 for g in REGISTRY}
    assert get(f"{base}/nowhere")[0] == 404


def test_make_trace_follows_an_order_through_every_hop(
    apps_running: None, stack_settings: StackSettings, api_key: str
) -> None:
    import subprocess
    import uuid

    api = f"http://127.0.0.1:{stack_settings.api_port}"
    key = f"trace-{uuid.uuid4()}"
    order_id = post(
        f"{api}/orders", factories.order_payload(), api_key, **{"Idempotency-Key": key}
    )["id"]
    post(f"{api}/orders/{order_id}/cancel", {"reason": "traced"}, api_key)

    def traced(ident: str) -> dict[str, Any]:
        done = subprocess.run(
            ["make", "-s", "trace", f"ID={ident}", "JSON=1"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        answer: dict[str, Any] = json.loads(done.stdout)
        return answer

    def every_group_handled() -> dict[str, Any] | None:
        found = traced(order_id)
        states = [
            g["state"] for e in found["events"] for g in e["groups"] if g["group"] in REGISTRY
        ]
        return found if len(states) == 2 * len(REGISTRY) and set(states) == {"handled"} else None

    found = until(every_group_handled, 90, "both events handled by every group")
    assert found["found_by"] == "order id"
    assert [e["event_type"] for e in found["events"]] == ["OrderPlaced", "OrderCancelled"]
    for event in found["events"]:
        assert event["committed_at"] is not None
        assert event["commit_to_kafka_ms"] >= 0
        assert event["traceparent"]
        for group in event["groups"]:
            assert group["after_kafka_ms"] >= 0, group
    placed = found["events"][0]
    trace_id = placed["traceparent"].split("-")[1]
    for ident, how in (
        (key, "idempotency key"),
        (placed["event_id"], "event id"),
        (trace_id, "trace id"),
    ):
        again = traced(ident)
        assert (again["order_id"], again["found_by"]) == (order_id, how)


def test_every_dashboard_panel_has_data_in_the_running_prometheus(
    apps_running: None, stack_settings: StackSettings, api_key: str
) -> None:
    """The Grafana dashboard's queries, asked of the native stack's Prometheus: each one
    names metrics that exist (a renamed metric leaves its panel empty). Dead letters may
    rightly have none; every other panel must show a series once traffic went through."""
    from tests.unit.test_monitoring import dashboard_queries

    api = f"http://127.0.0.1:{stack_settings.api_port}"
    for _ in range(3):
        post(f"{api}/orders", factories.order_payload(), api_key)

    def empty_panels() -> list[str]:
        return [
            title
            for title, expr in dashboard_queries()
            if "Dead letters" not in title and not prometheus_query(stack_settings, expr)
        ]

    deadline = time.monotonic() + 90
    while empty := empty_panels():
        assert time.monotonic() < deadline, f"panels without data after 90 s: {empty}"
        time.sleep(2)


def test_the_observability_bench_measures_a_replay(
    stack_settings: StackSettings, seeding: None
) -> None:
    """One variant of ``make bench-observability``, small: it replays real events and
    reports a CPU cost per event (the figures themselves are the bench's, not a test's)."""
    import subprocess
    import sys

    from bench.consumer_rates import topic_size

    if topic_size(stack_settings.kafka_as("tools"), "outbox.event.order")[1] < 1500:
        seeded = subprocess.run(
            [sys.executable, "-m", "producer_app", "seed", "--orders", "1500"],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert seeded.returncode == 0, seeded.stderr[-2000:]
        time.sleep(5)  # Debezium's turn
    done = subprocess.run(
        [sys.executable, "-m", "bench.observability", "--variant", "metrics", "--events", "1500"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    row = json.loads(done.stdout.strip().splitlines()[-1])
    assert row["variant"] == "metrics"
    assert row["events"] > 0
    assert row["cpu_us_per_event"] > 0
