"""Compose's one-shot jobs run with exactly the variables compose gives them, against the real
Postgres, Kafka and Connect (the native stack's, reached where compose would reach its own).

A job's container has no .env: a secret its command needs but compose does not give it stops
the job, and everything waiting for it waits for ever. The `migrate` job once did exactly that
(its `consumers migrate` demanded the consumers' Kafka secret). Here each job's command runs
from a folder without .env, with the names compose gives it and the native stack's values."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from stack.secrets import SECRET_VARS
from stack.settings import StackSettings
from tests.conftest import ROOT

pytestmark = pytest.mark.integration

JOBS = ["migrate", "kafka-auth", "register"]


def _given(service: dict[str, Any]) -> dict[str, str]:
    """The job's environment as compose writes it, with ${VAR...} left as names."""
    return {k: str(v) for k, v in (service.get("environment") or {}).items()}


def _native(name: str, value: str, settings: StackSettings) -> str:
    """A variable's value pointed at the native stack: its secrets and addresses."""
    if name in SECRET_VARS:
        secret = getattr(settings, name.lower())
        assert secret is not None, f"{name} is missing from .env"
        return str(secret.get_secret_value())
    return {
        "POSTGRES_HOST": settings.postgres_host,
        "POSTGRES_PORT": str(settings.postgres_port),
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "CONNECT_URL": settings.connect_url,
    }.get(name, value)


@pytest.mark.parametrize("job", JOBS)
def test_a_job_runs_with_only_what_compose_gives_it(
    job: str, stack_settings: StackSettings, connect_up: object, tmp_path: Path
) -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    service = compose["services"][job]
    command: list[str] = service["command"]
    assert command[:3] == ["python", "-m", "stack"], command
    env = {name: _native(name, value, stack_settings) for name, value in _given(service).items()}
    unresolved = {k: v for k, v in env.items() if re.search(r"\$\{", v)}
    assert unresolved == {}, f"{job}: {unresolved}"
    # As the image sets for every container: no .env to write, none to read; the image's
    # /app holds the code and the connector configs, and nothing else of the clone.
    env |= {"STACK_SECRETS_FROM_ENVIRONMENT": "1", "PYTHONPATH": str(ROOT)}
    (tmp_path / "connectors").symlink_to(ROOT / "connectors")
    env |= {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
    done = subprocess.run(
        [sys.executable, "-m", "stack", "--root", str(tmp_path), *command[3:]],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, f"{job} failed:\n{done.stdout[-2000:]}{done.stderr[-3000:]}"
    assert not (tmp_path / ".env").exists()
