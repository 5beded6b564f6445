"""Prometheus and Grafana as configured: the config both stacks render is one promtool accepts,
and every dashboard query is
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


def test_both_stacks_render_one_config_that_promtool_accepts(tmp_path: Path) -> None:
    """The native stack and compose's container render the config with the same code
    (stack/monitoring.py; compose with each job at its service's name)."""
    for by_service in (False, True):
        settings = _settings().model_copy(update={"stack_targets_by_service": by_service})
        rendered = config(Layout(ROOT), settings)
        assert [c["job_name"] for c in rendered["scrape_configs"]] == list(jobs(settings))
        assert rendered["rule_files"] == [str(MONITORING / "alerts.yml")]
        local = tmp_path / f"prometheus-{by_service}.yml"
        local.write_text(yaml.safe_dump(rendered))
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
