"""The generated .env: every secret present, private, never overwritten."""

from __future__ import annotations

from pathlib import Path

import pytest

from stack.secrets import SECRET_VARS, ensure_env_file


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
