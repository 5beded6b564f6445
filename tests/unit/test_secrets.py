"""The generated .env: every secret present, private, never overwritten."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from stack.secrets import SECRET_VARS, ensure_env_file, own_secrets


def test_generates_each_secret_once_with_private_mode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in SECRET_VARS:
        monkeypatch.delenv(name, raising=False)
    env = tmp_path / ".env"
    assert ensure_env_file(env) is True
    values = dict(line.split("=", 1) for line in env.read_text().splitlines() if "=" in line)
    assert set(values) == set(SECRET_VARS)
    assert len({v.strip() for v in values.values()}) == len(SECRET_VARS)  # all different
    assert env.stat().st_mode & 0o777 == 0o600
    before = env.read_text()
    assert ensure_env_file(env) is False
    assert env.read_text() == before


def test_values_already_in_the_environment_win(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POSTGRES_PASSWORD", "from-env")
    env = tmp_path / ".env"
    ensure_env_file(env)
    assert "POSTGRES_PASSWORD=from-env\n" in env.read_text()


def test_a_looser_file_is_tightened_and_new_variables_are_appended(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = tmp_path / ".env"
    env.write_text("POSTGRES_PASSWORD=kept\n")
    env.chmod(0o644)
    warnings: list[str] = []
    assert ensure_env_file(env, warn=warnings.append) is False
    assert env.stat().st_mode & 0o777 == 0o600
    assert any("was readable by others" in w for w in warnings)
    values = dict(line.split("=", 1) for line in env.read_text().splitlines() if "=" in line)
    assert values["POSTGRES_PASSWORD"] == "kept"
    assert set(values) == set(SECRET_VARS)


def test_the_file_is_never_created_readable_by_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Created 0600 in one step, whatever the umask: no chmod after the write."""
    old = os.umask(0)
    try:
        env = tmp_path / ".env"
        assert ensure_env_file(env) is True
    finally:
        os.umask(old)
    assert env.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir()] == [".env"]  # no temporary file left


def test_a_part_keeps_only_its_own_secrets() -> None:
    environ = {name: "s" for name in SECRET_VARS} | {"PATH": "/bin", "POSTGRES_HOST": "db"}
    kept = own_secrets(environ, keep=["DEBEZIUM_DB_PASSWORD"])
    assert kept == {"PATH": "/bin", "POSTGRES_HOST": "db", "DEBEZIUM_DB_PASSWORD": "s"}


def test_the_consumers_get_their_secrets_and_a_metrics_directory_of_the_stack(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from stack.layout import Layout
    from stack.parts import CONSUMER_SECRETS, consumers_env

    for name in SECRET_VARS:
        monkeypatch.setenv(name, f"value-of-{name}")
    env = consumers_env(Layout(tmp_path))
    assert {n for n in SECRET_VARS if n in env} == set(CONSUMER_SECRETS)
    # Emptied at each start by the consumers; under .stack/run, so a SIGKILL leaves no
    # temporary directory behind.
    assert env["PROMETHEUS_MULTIPROC_DIR"] == str(tmp_path / ".stack/run/consumers-metrics")
