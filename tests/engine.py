"""The Docker engine the ``docker`` tests run on, and compose driven the way its users drive it.

Asked for explicitly, never picked up by accident: a user's own engine when ``DOCKER_HOST``
names one that answers, else the project's private one (``make docker-engine``), started here
when it is not running and stopped again afterwards. The native tests never see either: the
client variables reach only the commands these tests run.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from stack.engine import Engine, ping
from stack.engine import verbs as engine_verbs
from stack.health import StackError
from stack.layout import Layout
from tests.conftest import ROOT


def _users_engine() -> dict[str, str] | None:
    host = os.environ.get("DOCKER_HOST", "")
    if not host.startswith("unix://") or not ping(Path(host.removeprefix("unix://"))):
        return None
    env = {"DOCKER_HOST": host}
    if os.environ.get("DOCKER_CONFIG"):
        env["DOCKER_CONFIG"] = os.environ["DOCKER_CONFIG"]
    return env


@contextlib.contextmanager
def provide() -> Iterator[dict[str, str]]:
    """The client environment of an engine with Compose; skips, saying why, where none can
    be had (CI always has one: there a failure to start it fails the run)."""
    users = _users_engine()
    if users is not None:
        yield users
        return
    layout = Layout(ROOT)
    engine = Engine(layout.stack_dir)
    was_running = engine.answers()
    try:
        engine_verbs.up(layout, say=lambda line: print(line, flush=True))
    except StackError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"no Docker engine could be started: {exc}", pytrace=False)
        pytest.skip(f"no Docker engine answers and make docker-engine could not start one: {exc}")
    try:
        yield engine.env()
    finally:
        if not was_running:
            engine_verbs.stop(layout, say=lambda line: print(line, flush=True))


def docker(
    client: Mapping[str, str], *args: str, timeout: float = 120, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """``docker ARGS`` against the engine of ``client``, from the repository root."""
    docker_cli = shutil.which("docker") or "docker"
    done = subprocess.run(
        [docker_cli, *args],
        cwd=ROOT,
        env={**os.environ, **client},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if check and done.returncode != 0:
        raise AssertionError(
            f"docker {' '.join(args)} exited {done.returncode}:\n{done.stdout[-3000:]}\n"
            f"{done.stderr[-3000:]}"
        )
    return done


def ensure_image(client: Mapping[str, str], service: str, image: str) -> None:
    """``image`` built from this repository (by compose's ``service``) if the engine lacks it."""
    if docker(client, "image", "inspect", image, check=False).returncode == 0:
        return
    docker(client, "compose", "--env-file", ".env.example", "build", service, timeout=1800)
