"""The alert rules, checked and unit-tested by Prometheus' own promtool; then each alert is
mutated twice to prove its tests can fail: made never to fire (its firing case must notice) and
made to fire always (its silent case must notice)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "monitoring" / "alerts.yml"
TESTS = ROOT / "monitoring" / "alerts.test.yml"


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("promtool")
    assert binary, "promtool not found: apt-get install prometheus (.ci/run installs it)"
    return subprocess.run([binary, *args], capture_output=True, text=True, timeout=60)


def alerts() -> list[str]:
    rules = yaml.safe_load(RULES.read_text())
    return [r["alert"] for g in rules["groups"] for r in g["rules"] if "alert" in r]


def test_the_rules_are_valid() -> None:
    checked = promtool("check", "rules", str(RULES))
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_every_alert_fires_and_stays_silent_as_its_cases_say() -> None:
    tested = promtool("test", "rules", str(TESTS))
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_every_alert_has_a_firing_case() -> None:
    cases = yaml.safe_load(TESTS.read_text())["tests"]
    firing = {
        t["alertname"]
        for case in cases
        for t in case.get("alert_rule_test", [])
        if t.get("exp_alerts")
    }
    assert firing == set(alerts())


def _mutated(tmp_path: Path, alert: str, expr: str) -> Path:
    rules: dict[str, Any] = yaml.safe_load(RULES.read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            if rule.get("alert") == alert:
                rule["expr"] = expr.format(original=rule["expr"])
    (tmp_path / "alerts.yml").write_text(yaml.safe_dump(rules))
    (tmp_path / "alerts.test.yml").write_text(TESTS.read_text())
    return tmp_path / "alerts.test.yml"


@pytest.mark.parametrize("alert", alerts())
@pytest.mark.parametrize(
    "mutation",
    [
        pytest.param("vector(1) == 0", id="never-fires"),
        pytest.param("({original}) or on() vector(1)", id="always-fires"),
    ],
)
def test_a_mutated_alert_fails_its_tests(tmp_path: Path, alert: str, mutation: str) -> None:
    tested = promtool("test", "rules", str(_mutated(tmp_path, alert, mutation)))
    assert tested.returncode != 0, f"{alert} with expr {mutation!r} still passes its tests"


def test_the_unexpected_slot_alert_spares_exactly_the_connectors_slot() -> None:
    """The alert names the connector's slot; a slot renamed in connectors/ must be renamed
    there too, or the connector itself would page."""
    from ops.status import connector_slots

    rules = yaml.safe_load(RULES.read_text())
    [expr] = [
        r["expr"]
        for g in rules["groups"]
        for r in g["rules"]
        if r.get("alert") == "OutboxUnexpectedReplicationSlot"
    ]
    [slot] = connector_slots(ROOT)
    assert expr.strip() == f'outbox_replication_slot_info{{slot!="{slot}"}} == 1'
