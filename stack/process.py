"""Background processes with pid and log files, and a stop that leaves nothing behind.

Each process gets its own session (process group) so ``stop`` can signal the JVM and anything it
forked at once. ``stop`` sends SIGTERM, waits, then SIGKILLs the group: ``down`` must not leave a
process behind even when a JVM ignores the polite signal.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from stack.private import UMASK, open_private, private_dir
from stack.secrets import own_secrets


def read_pid(pid_file: Path) -> int | None:
    try:
        return int(pid_file.read_text().split()[0])
    except (FileNotFoundError, ValueError, IndexError):
        return None


def alive(pid: int | None) -> bool:
    """True if ``pid`` is a running process (a finished zombie counts as gone)."""
    if pid is None or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return _live(pid, stat.rsplit(")", 1)[1].split()[0])


def _live(pid: int, state: str) -> bool:
    """A zombie is gone only once all its threads are: after SIGKILL the leader of a JVM shows
    'Z' while other threads still tear down and hold its sockets (a port stays taken)."""
    if state != "Z":
        return True
    try:
        return len(os.listdir(f"/proc/{pid}/task")) > 1
    except FileNotFoundError:
        return False


def running_pid(pid_file: Path) -> int | None:
    pid = read_pid(pid_file)
    return pid if alive(pid) else None


def spawn(
    argv: Sequence[str],
    *,
    pid_file: Path,
    log_file: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> int:
    """Start ``argv`` in the background in a new session; record its pid; return it. Without
    ``env`` it inherits this environment minus every secret (``stack.secrets.own_secrets``).
    It runs with the private umask (``stack.private``): what it writes, no other user reads;
    its log and pid file are 0600 too."""
    private_dir(log_file.parent)
    private_dir(pid_file.parent)
    with os.fdopen(open_private(log_file), "ab") as log:
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=dict(env) if env is not None else own_secrets(os.environ),
            cwd=cwd,
            start_new_session=True,
            umask=UMASK,
        )
    with os.fdopen(open_private(pid_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC), "w") as f:
        f.write(f"{proc.pid}\n")
    return proc.pid


def stop(pid_file: Path, *, timeout: float = 20.0) -> bool:
    """Stop the process group recorded in ``pid_file``; return True if something was running.

    Waits for every live member of the group, not just its leader: a child that outlives its
    parent (or ignores SIGTERM) is killed too, so ``down`` leaves nothing behind.
    """
    pid = read_pid(pid_file)
    was_running = alive(pid) or (pid is not None and bool(group_members(pid)))
    if pid is not None and was_running:
        _signal_group(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while group_members(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if group_members(pid):
            _signal_group(pid, signal.SIGKILL)
            while group_members(pid):
                time.sleep(0.05)
    with contextlib.suppress(FileNotFoundError):
        pid_file.unlink()
    return was_running


def group_members(pgid: int) -> list[int]:
    """Live processes (finished zombies excluded) whose process group is ``pgid``."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        if int(fields[2]) == pgid and _live(int(entry.name), fields[0]):
            members.append(int(entry.name))
    return members


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def tail(path: Path, lines: int = 40) -> str:
    """The last ``lines`` lines of a log, for error messages that show why a part failed."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - 64 * 1024))
            text = fh.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return f"(no log at {path})"
    return "\n".join(text.splitlines()[-lines:])
