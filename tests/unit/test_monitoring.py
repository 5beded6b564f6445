"""Prometheus and Grafana as configured: the native stack scrapes what compose scrapes (same
jobs, same ports), the compose config is one promtool accepts, and every dashboard query is
valid PromQL on the data source the provisioning names. (That each query returns data from a
running Prometheus is tested end to end: tests/e2e/test_observability.py.)"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from stack.layout import Layout
from stack.monitoring import config, jobs
from stack.secrets import SECRET_VARS
from stack.settings import StackSettings
from tests.unit.test_alerts import promtool

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "monitoring"


def _settings() -> StackSettings:
    secrets: dict[str, Any] = {n.lower(): "x" for n in SECRET_VARS}
    return StackSettings(_env_file=None, **secrets)


def dashboard_queries() -> list[tuple[str, str]]:
    dashboard = json.loads((MONITORING / "grafana/dashboards/outbox.json").read_text())
    return [(p["title"], t["expr"]) for p in dashboard["panels"] for t in p["targets"]]


def test_compose_scrapes_the_native_jobs_on_the_same_ports() -> None:
    compose = yaml.safe_load((MONITORING / "prometheus.yml").read_text())
    targets = {
        c["job_name"]: c["static_configs"][0]["targets"][0] for c in compose["scrape_configs"]
    }
    native = jobs(_settings())
    assert set(targets) == set(native)
    for job, target in targets.items():
        assert target.endswith(f":{native[job]}"), (job, target)
    rendered = config(Layout(ROOT), _settings())
    assert [c["job_name"] for c in rendered["scrape_configs"]] == list(native)
    assert rendered["rule_files"] == [str(MONITORING / "alerts.yml")]


def test_the_compose_config_passes_promtool(tmp_path: Path) -> None:
    text = (MONITORING / "prometheus.yml").read_text()
    local = tmp_path / "prometheus.yml"  # the rules where compose mounts them, here
    local.write_text(text.replace("/etc/prometheus/alerts.yml", str(MONITORING / "alerts.yml")))
    checked = promtool("check", "config", str(local))
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_every_dashboard_query_is_valid_promql(tmp_path: Path) -> None:
    queries = dashboard_queries()
    assert len(queries) >= 8
    rules: dict[str, Any] = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [{"record": f"panel:{i}", "expr": e} for i, (_, e) in enumerate(queries)],
            }
        ]
    }
    path = tmp_path / "panels.yml"
    path.write_text(yaml.safe_dump(rules))
    checked = promtool("check", "rules", str(path))
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_dashboard_uses_the_provisioned_data_source() -> None:
    source = yaml.safe_load(
        (MONITORING / "grafana/provisioning/datasources/prometheus.yml").read_text()
    )
    [uid] = [d["uid"] for d in source["datasources"]]
    dashboard = json.loads((MONITORING / "grafana/dashboards/outbox.json").read_text())
    for panel in dashboard["panels"]:
        assert panel["datasource"]["uid"] == uid, panel["title"]
