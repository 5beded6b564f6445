"""The compose-go loader (main.go here), built once per session, and compose.yaml as it loads."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT

CHECKER = Path(__file__).parent


def _go() -> str:
    go = shutil.which("go") or (
        "/usr/local/go/bin/go" if Path("/usr/local/go/bin/go").exists() else None
    )
    if go is None:
        pytest.fail("Go is needed to load compose.yaml with compose-go (apt-get install golang)")
    return go


@pytest.fixture(scope="session")
def checker(tmp_path_factory: pytest.TempPathFactory) -> Path:
    binary = tmp_path_factory.mktemp("compose") / "checker"
    built = subprocess.run(
        [_go(), "build", "-o", str(binary), "."],
        cwd=CHECKER,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    return binary


def load(
    checker: Path, compose: Path, env: Path, *overrides: Path
) -> subprocess.CompletedProcess[str]:
    """compose.yaml, with ``overrides`` read on top in order (as COMPOSE_FILE lists them)."""
    files = os.pathsep.join(str(f) for f in (compose, *overrides))
    return subprocess.run(
        [str(checker), files, str(env)], capture_output=True, text=True, timeout=60
    )


@pytest.fixture(scope="session")
def project(checker: Path) -> dict[str, Any]:
    loaded = load(checker, ROOT / "compose.yaml", ROOT / ".env.example")
    assert loaded.returncode == 0, loaded.stderr
    return json.loads(loaded.stdout)  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def ha_project(checker: Path) -> dict[str, Any]:
    """The HA topology's form: compose.ha.yaml read on top of compose.yaml."""
    loaded = load(checker, ROOT / "compose.yaml", ROOT / ".env.example", ROOT / "compose.ha.yaml")
    assert loaded.returncode == 0, loaded.stderr
    return json.loads(loaded.stdout)  # type: ignore[no-any-return]
