"""compose.yaml as `docker compose` itself reads it: loaded by compose-go (tests/compose/main.go,
the library docker compose v2 is built on) with `.env.example` as the env file. The loader
applies the compose specification's schema and interpolation, so a key the specification does
not allow, a `${VAR:?}` nobody sets, or a dependency on a missing service fails here, on a
machine without a Docker engine. The assertions then read the loaded model, not the YAML."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.compose.conftest import load
from tests.conftest import ROOT

CHECKER = Path(__file__).parent
ONE_SHOT = {"migrate", "kafka-auth", "register"}


def test_every_awaited_service_is_healthchecked_or_a_one_shot(project: dict[str, Any]) -> None:
    services = project["services"]
    for name, service in services.items():
        for dep, how in (service.get("depends_on") or {}).items():
            assert dep in services, f"{name} depends on a missing service {dep}"
            if how["condition"] == "service_healthy":
                assert services[dep].get("healthcheck", {}).get("test"), (name, dep)
            else:
                assert how["condition"] == "service_completed_successfully", (name, dep, how)
                assert dep in ONE_SHOT, f"{name} waits for {dep} to exit, but it never does"


def test_the_one_shot_jobs_are_awaited_by_what_needs_them(project: dict[str, Any]) -> None:
    services = project["services"]

    def waits(name: str, job: str) -> bool:
        how = (services[name].get("depends_on") or {}).get(job)
        return how is not None and how["condition"] == "service_completed_successfully"

    assert waits("connect", "kafka-auth")
    assert waits("connect", "migrate")
    assert waits("api", "migrate")
    assert waits("consumers", "migrate")
    assert waits("consumers", "register")
    assert not any("restart" in services[job] for job in ONE_SHOT)


def test_every_published_port_is_on_localhost(project: dict[str, Any]) -> None:
    published = {
        (name, int(port["published"])): port.get("host_ip")
        for name, service in project["services"].items()
        for port in service.get("ports") or []
    }
    assert set(published) == {
        ("postgres", 5432),
        ("kafka", 9092),
        ("connect", 8083),
        ("api", 8000),
        # Metrics and Prometheus (docs/observability.md); Grafana and Jaeger only under the
        # dashboards profile, which this load (like `docker compose up`) leaves out.
        ("consumers", 9400),
        ("connect", 9404),
        ("kafka", 9405),
        ("exporter", 9406),
        ("prometheus", 9090),
    }
    assert set(published.values()) == {"127.0.0.1"}


def test_volumes_are_declared_and_bind_mounts_exist(project: dict[str, Any]) -> None:
    declared = set(project.get("volumes") or {})
    for name, service in project["services"].items():
        for volume in service.get("volumes") or []:
            if volume["type"] == "volume":
                assert volume["source"] in declared, (name, volume["source"])
            else:
                assert volume["type"] == "bind"
                assert Path(volume["source"]).is_dir(), (name, volume["source"])
                assert volume.get("read_only"), f"{name} mounts {volume['source']} writable"


MUTATIONS: dict[str, Callable[[str], str]] = {
    "a key the specification does not allow": lambda y: y.replace(
        "    stop_grace_period: 30s", "    stop_grace_period: 30s\n    restart_policy: always"
    ),
    "an interpolation nobody sets": lambda y: y.replace(
        "${APP_DB_PASSWORD:?set it in .env}", "${APP_DB_PASWORD:?set it in .env}", 1
    ),
    "a dependency on a service that does not exist": lambda y: y.replace(
        "      register: {condition: service_completed_successfully}",
        "      registr: {condition: service_completed_successfully}",
    ),
}


@pytest.mark.parametrize("mutation", sorted(MUTATIONS))
def test_the_loader_refuses_a_broken_file(checker: Path, tmp_path: Path, mutation: str) -> None:
    """The check can fail: each mutation is one a hand edit could make."""
    original = (ROOT / "compose.yaml").read_text()
    broken = MUTATIONS[mutation](original)
    assert broken != original, "the mutation no longer applies to compose.yaml"
    (tmp_path / "compose.yaml").write_text(broken)
    for folder in ("stack",):  # bind mounts are resolved against the file's folder
        (tmp_path / folder).symlink_to(ROOT / folder)
    loaded = load(checker, tmp_path / "compose.yaml", ROOT / ".env.example")
    assert loaded.returncode != 0, mutation
    assert loaded.stderr.strip(), "refused without saying why"
