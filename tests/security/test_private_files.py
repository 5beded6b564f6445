"""Issue 25, item 2: nothing the stack writes is readable by another local user. Kafka's
segments held order keys, customer ids and SKUs, ``__cluster_metadata`` every principal's
SCRAM record, the logs what flowed, all 0644 in 0755 folders: SASL and ACLs guard the
sockets, not the disk. Checked as the user ``nobody`` would try, then every path's mode and
every part's umask, so that no single folder's mode is all that stands in the way."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from stack.layout import Layout
from stack.parts import app_parts, stack_parts
from stack.settings import StackSettings
from tests.conftest import ROOT

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(os.geteuid() != 0, reason="runs the attack as nobody (runuser needs root)"),
]
LAYOUT = Layout(ROOT)


def _as_nobody(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["runuser", "-u", "nobody", "--", *argv],
        capture_output=True,
        text=True,
        errors="replace",  # a file that is readable comes back as bytes: no decoding error
        timeout=60,
    )


def _secrets_on_disk() -> list[Path]:
    """The files an attacker wants: order events and credentials in Kafka's log, each part's
    log, Postgres' roles and their verifiers, Prometheus' samples."""
    data = LAYOUT.kafka_data
    segments = sorted((data / "outbox.event.order-0").glob("*.log"))
    found = [
        *segments[:1],
        *sorted((data / "__cluster_metadata-0").glob("*.log"))[:1],
        *sorted(LAYOUT.logs.glob("*.log")),
        LAYOUT.log_file("postgres"),
        LAYOUT.pgdata / "global" / "1260",
        *sorted((LAYOUT.stack_dir / "prometheus" / "wal").glob("0*"))[:1],
    ]
    assert segments, "no segment of the event topic: has an order been placed?"
    assert len(found) >= 8, found  # the stack has written what we look for
    return [p.resolve() for p in found]


def test_nobody_reads_kafkas_data_the_logs_or_postgres(stack_settings: StackSettings) -> None:
    for path in _secrets_on_disk():
        read = _as_nobody("cat", str(path))
        assert read.returncode != 0, path
        assert "Permission denied" in read.stderr, path
        assert read.stdout == "", path
    listed = _as_nobody("ls", str(LAYOUT.stack_dir))
    assert listed.returncode != 0, listed.stdout


def _loose(root: Path) -> list[str]:
    loose = []
    for path in [root, *root.rglob("*")]:
        try:
            mode = path.lstat().st_mode
        except FileNotFoundError:
            continue  # a segment Kafka deleted meanwhile
        if not path.is_symlink() and mode & 0o077:
            loose.append(f"{oct(mode & 0o777)} {path}")
    return loose


def test_every_data_directory_is_0700_and_every_file_private() -> None:
    assert LAYOUT.stack_dir.stat().st_mode & 0o777 == 0o700
    roots = [LAYOUT.pg.resolve(), *(p for p in LAYOUT.data_dirs() if p != LAYOUT.pg)]
    loose = [entry for root in roots if root.exists() for entry in _loose(root)]
    assert loose == []


def _umask(pid: int) -> str:
    status = Path(f"/proc/{pid}/status").read_text()
    return next(line.split()[1] for line in status.splitlines() if line.startswith("Umask:"))


def test_every_part_runs_with_a_private_umask(
    apps_running: None, stack_settings: StackSettings
) -> None:
    """What a part writes later (a new segment, a rotated log) is private too."""
    parts = stack_parts(LAYOUT, stack_settings) + app_parts(LAYOUT, stack_settings)
    umasks = {}
    for part in parts:
        pid = part.pid()
        assert pid is not None, f"{part.name} is not running"
        umasks[part.name] = _umask(pid)
    assert umasks == dict.fromkeys(umasks, "0077")
