"""Issue 25, item 5 (last part): each process holds only its own secrets, also when started by
hand from a clone, where it reads ``.env``. The API and the consumers used to parse the whole
file, the Postgres superuser's password included, and keep what they did not need in their
heap. Here each is started as a user would start it (``python -m ...`` in the clone, no secret
in its environment), and its writable memory is read through ``/proc/<pid>/mem`` for every
other part's secret: none may be there, not even in memory already freed."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from contract.kafka import KafkaAccess
from contract.kafka_reads import group_members
from stack.parts import API_SECRETS, CONSUMER_SECRETS, EXPORTER_SECRETS
from stack.secrets import SECRET_VARS
from stack.settings import StackSettings
from tests.conftest import ROOT

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(os.geteuid() != 0, reason="reads another process's memory (root)"),
]
CHUNK = 16 * 1024 * 1024


def secrets_in_memory(pid: int, secrets: dict[str, str]) -> set[str]:
    """The names of ``secrets`` whose value is anywhere in ``pid``'s writable memory (its
    heap, stacks, anonymous and data mappings; freed blocks included)."""
    needles = {name: value.encode() for name, value in secrets.items()}
    overlap = max(len(v) for v in needles.values())
    found: set[str] = set()
    regions = Path(f"/proc/{pid}/maps").read_text().splitlines()
    with open(f"/proc/{pid}/mem", "rb", buffering=0) as mem:
        for line in regions:
            fields = line.split(maxsplit=5)
            where = fields[5] if len(fields) > 5 else ""
            if "rw" not in fields[1] or where in ("[vvar]", "[vsyscall]"):
                continue
            start, end = (int(x, 16) for x in fields[0].split("-"))
            for at in range(start, end, CHUNK):
                try:
                    mem.seek(at)
                    chunk = mem.read(min(CHUNK + overlap, end - at))
                except OSError:
                    break  # a mapping the kernel will not read (a guard page)
                found |= {name for name, value in needles.items() if value in chunk}
    return found


def _by_hand(**extra: str) -> dict[str, str]:
    """A shell's environment in the clone, as a user who did not source .env has it."""
    env = {k: v for k, v in os.environ.items() if k not in SECRET_VARS and k != "API_KEY"}
    return {**env, **extra}


@contextmanager
def _started(argv: list[str], env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(
        argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def _values(settings: StackSettings, but: tuple[str, ...]) -> dict[str, str]:
    return {n: settings.need(n.lower()).get_secret_value() for n in SECRET_VARS if n not in but}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_api_started_by_hand_holds_no_other_secret(stack_settings: StackSettings) -> None:
    port = _free_port()
    env = _by_hand(API_PORT=str(port), IDEMPOTENCY_PURGE_INTERVAL_SECONDS="0")
    with _started([sys.executable, "-m", "producer_app", "serve"], env) as api:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).is_success:
                    break
            except httpx.HTTPError:
                pass
            assert api.poll() is None, "the API exited"
            assert time.monotonic() < deadline, "the API did not answer"
            time.sleep(0.5)
        foreign = _values(stack_settings, but=API_SECRETS)
        assert secrets_in_memory(api.pid, foreign) == set()
        own = _values(stack_settings, but=())
        assert "APP_DB_PASSWORD" in secrets_in_memory(api.pid, own)  # the scan does see


SETTINGS = {
    "producer_app.settings.ProducerSettings": API_SECRETS,
    "consumers.settings.ConsumerSettings": CONSUMER_SECRETS,
    "consumers.migrate.MigrationSettings": ("CONSUMER_DB_PASSWORD",),
    "ops.exporter.ExporterSettings": EXPORTER_SECRETS,
}


@pytest.mark.parametrize("settings_class", sorted(SETTINGS))
def test_reading_env_keeps_no_other_line(
    stack_settings: StackSettings, settings_class: str
) -> None:
    """The same in a process that does nothing after building its settings, so no later
    allocation can have overwritten what the reading left behind."""
    module, name = settings_class.rsplit(".", 1)
    code = (
        f"from {module} import {name}; {name}(); "
        "import sys, time; print('built', flush=True); time.sleep(60)"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], cwd=ROOT, env=_by_hand(), stdout=subprocess.PIPE
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == b"built\n"
        foreign = _values(stack_settings, but=SETTINGS[settings_class])
        assert secrets_in_memory(proc.pid, foreign) == set()
    finally:
        proc.kill()
        proc.wait()


def _client_ids(access: KafkaAccess, group: str) -> list[str]:
    return [m.client_id for m in group_members(access, group)]


def test_the_consumers_started_by_hand_hold_no_other_secret(
    stack_settings: StackSettings,
) -> None:
    env = _by_hand(CONSUMER_METRICS_PORT="0")
    argv = [sys.executable, "-m", "consumers", "run", "notifications"]
    with _started(argv, env) as consumer:
        access = stack_settings.kafka_group("notifications")
        deadline = time.monotonic() + 90
        while f"notifications-{consumer.pid}" not in _client_ids(access, "notifications"):
            assert consumer.poll() is None, "the consumer exited"
            assert time.monotonic() < deadline, "the consumer did not join its group"
            time.sleep(1)
        foreign = _values(stack_settings, but=CONSUMER_SECRETS)
        assert secrets_in_memory(consumer.pid, foreign) == set()
