"""Background processes: pid files, logs, a stop that leaves no process behind, and the
arguments the launcher hands them."""

from __future__ import annotations

import base64
import sys
import time
import uuid
from pathlib import Path

from stack.jvm import cluster_id
from stack.process import alive, read_pid, running_pid, spawn, stop, tail


def child_pid(log: Path) -> int:
    """The pid the spawned script prints as its first line ("child <pid>")."""
    for _ in range(200):
        text = log.read_text() if log.exists() else ""
        if text.startswith("child"):
            return int(text.split()[1])
        time.sleep(0.05)
    raise AssertionError(f"no child pid in {log} after 10 s")


def test_spawn_records_pid_and_log_then_stop_kills_the_group(tmp_path: Path) -> None:
    pid_file, log = tmp_path / "run" / "x.pid", tmp_path / "logs" / "x.log"
    # A parent that ignores SIGTERM and forks a child: stop must still end both.
    script = (
        "import signal, subprocess, sys, time;"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN);"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']);"
        "print('child', child.pid, flush=True); time.sleep(60)"
    )
    pid = spawn([sys.executable, "-c", script], pid_file=pid_file, log_file=log)
    assert read_pid(pid_file) == pid
    child = child_pid(log)
    assert alive(child)
    assert stop(pid_file, timeout=0.5) is True
    assert not alive(pid)
    assert not alive(child)
    assert not pid_file.exists()


def test_stale_pid_file_is_not_running(tmp_path: Path) -> None:
    pid_file = tmp_path / "gone.pid"
    pid_file.write_text("999999999\n")
    assert running_pid(pid_file) is None
    assert stop(pid_file) is False


def test_tail_reads_the_end_and_names_missing_logs(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_text("".join(f"line {i}\n" for i in range(100)))
    assert tail(log, 2) == "line 98\nline 99"
    assert "no log at" in tail(tmp_path / "missing.log")


def test_stop_also_ends_a_child_that_outlives_its_parent(tmp_path: Path) -> None:
    pid_file, log = tmp_path / "x.pid", tmp_path / "x.log"
    # The parent exits on SIGTERM at once; its child ignores SIGTERM.
    script = (
        "import subprocess, sys, time;"
        "child = subprocess.Popen([sys.executable, '-c', 'import signal, time; "
        "signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)']);"
        "print('child', child.pid, flush=True); time.sleep(60)"
    )
    pid = spawn([sys.executable, "-c", script], pid_file=pid_file, log_file=log)
    child = child_pid(log)
    assert stop(pid_file, timeout=0.5) is True
    assert not alive(pid)
    assert not alive(child)


def test_a_kraft_cluster_id_never_starts_like_an_option() -> None:
    # 0xfb... encodes to "-..." in URL-safe base64: kafka-storage would take it for a flag.
    dash = uuid.UUID("fb000000-0000-4000-8000-000000000000")
    fine = uuid.UUID("00000000-0000-4000-8000-000000000000")
    draws = iter([dash, dash, fine])
    assert base64.urlsafe_b64encode(dash.bytes).decode().startswith("-")
    made = cluster_id(lambda: next(draws))
    assert made == base64.urlsafe_b64encode(fine.bytes).decode().rstrip("=")
    assert len(made) == 22
