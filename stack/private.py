"""Nothing the stack writes is readable by another local user.

Kafka's segments hold every order's key, customer id and SKUs, and ``__cluster_metadata`` every
principal's SCRAM record; the logs and Prometheus' data say what flowed. File modes are the
only thing between those files and the machine's other users (SASL and ACLs guard the
sockets, not the disk), so every process the stack starts runs with ``UMASK`` (files 0600,
directories 0700), ``.stack`` itself is 0700, and a data directory an older version left
readable is tightened on the next ``make up``.

A container entrypoint calls the same: ``os.umask(UMASK)`` before it execs its part, and
``tighten`` on a volume it mounts.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path

from stack.layout import Layout

UMASK = 0o077


def private_dir(path: Path) -> Path:
    """``path`` as a directory only its owner may enter (created with its parents, made 0700
    if it exists looser)."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.stat().st_mode & 0o077:
        path.chmod(0o700)
    return path


def tighten(root: Path) -> int:
    """Take group and other permissions off ``root`` and everything under it (symlinks are
    left alone: their targets are tightened where they live); returns how many paths changed.
    Files a part deletes meanwhile (Kafka's segments roll) are skipped."""
    changed = 0
    if not root.exists() or root.is_symlink():
        return changed
    for path in [root, *root.rglob("*")]:
        with contextlib.suppress(FileNotFoundError):
            if path.is_symlink():
                continue
            mode = path.stat().st_mode & 0o7777
            if mode & 0o077:
                path.chmod(mode & ~0o077)
                changed += 1
    return changed


def open_private(path: Path, flags: int = os.O_WRONLY | os.O_CREAT | os.O_APPEND) -> int:
    """A file descriptor on ``path``, created 0600 (an existing looser file is tightened)."""
    fd = os.open(path, flags, 0o600)
    if os.fstat(fd).st_mode & 0o077:
        os.fchmod(fd, 0o600)
    return fd


def secure(layout: Layout, warn: Callable[[str], None] = print) -> None:
    """``.stack`` 0700 and everything the stack wrote under it private (what an older version
    left readable included). Postgres' folder is its own user's and made private by
    ``stack.postgres.prepare_dir``; while a cluster an older version put inside ``.stack``
    still runs, its user must still get through, so ``.stack`` stays passable (0711) until
    the cluster is stopped and moved out (``make down``, then ``make up``)."""
    private_dir(layout.stack_dir)
    for path in layout.data_dirs():
        if path != layout.pg:
            tighten(path)
    inside = layout.pg.is_dir() and not layout.pg.is_symlink() and os.geteuid() == 0
    if inside and (layout.pgdata / "postmaster.pid").exists():
        layout.stack_dir.chmod(0o711)
        warn(
            f"warning: Postgres runs from {layout.pg}, inside .stack, so .stack stays 0711; "
            "`make down` then `make up` moves it out and makes .stack 0700"
        )
