"""The private Postgres cluster: Debian's binaries, our own data directory, port and config.

``initdb`` refuses to run as root, so when the launcher is root every Postgres command runs as the
``postgres`` user (``runuser``). That user cannot enter the clone's ``.stack`` (0700, root's:
``stack.private``), so the data then lives under ``/var/lib/postgresql`` (0700, the postgres
user's) and ``.stack/pg`` is a symlink to it; the layout and ``clean`` stay the same. A data
directory an older version made inside ``.stack`` is moved there on the next start.

What the server is started with and who may connect how (``stack.pg_access``) is written at
every start: ``write_hba`` here, ``foreground_command`` for a container's entrypoint.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from stack.health import StackError
from stack.layout import Layout
from stack.pg_access import LOOPBACK, hba_clients, hba_conf, server_options
from stack.private import UMASK
from stack.secrets import own_secrets
from stack.settings import StackSettings


def find_bin_dir() -> Path:
    """Debian installs versioned binaries under /usr/lib/postgresql/N/bin; take the newest >= 15."""
    override = os.environ.get("PG_BIN")
    if override:
        return Path(override)
    candidates = []
    for path in Path("/usr/lib/postgresql").glob("*/bin"):
        if (path / "initdb").exists() and path.parent.name.isdigit():
            candidates.append((int(path.parent.name), path))
    candidates = [c for c in candidates if c[0] >= 15]
    if not candidates:
        raise StackError(
            "PostgreSQL server binaries (>= 15) not found under /usr/lib/postgresql. "
            "Install them: apt-get install -y postgresql-15 (or set PG_BIN)."
        )
    return max(candidates)[1]


def _real(path: Path) -> Path:
    """The path without the ``.stack/pg`` symlink: the postgres user may not traverse the clone."""
    return path.resolve()


def _run(argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    # cwd=/ because the clone's folder may be unreadable for the postgres user.
    # No part's secret in the server's environment (own_secrets): it needs none of them.
    kwargs.setdefault("env", own_secrets(os.environ))
    return subprocess.run(
        _as_postgres(argv), cwd="/", text=True, check=False, umask=UMASK, **kwargs
    )


def _as_postgres(argv: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return argv
    return ["runuser", "-u", "postgres", "--", *argv]


OUTSIDE = Path("/var/lib/postgresql")


def _path_prefix(layout: Layout) -> str:
    digest = hashlib.sha1(str(layout.root).encode()).hexdigest()[:12]  # noqa: S324
    return f"outbox-stack-{digest}"


def outside_dir(layout: Layout, root: Path = OUTSIDE) -> Path:
    """Where the postgres user keeps this clone's cluster when the stack runs as root.

    The ``.stack/pg`` link is the record of which folder is this clone's. Without one (a fresh
    clone) the folder is a new one, named after the clone's path and a random suffix: a clone
    made again at the path of a deleted one must never start the deleted one's cluster, whose
    superuser password left with that clone's ``.env`` (CI clones at one path every run)."""
    if layout.pg.is_symlink():
        return Path(os.readlink(layout.pg))
    return root / f"{_path_prefix(layout)}-{secrets.token_hex(4)}"


def leftovers(layout: Layout, root: Path = OUTSIDE) -> list[Path]:
    """Clusters earlier clones at this path left outside, which this clone does not use."""
    ours = Path(os.readlink(layout.pg)) if layout.pg.is_symlink() else None
    found = sorted(root.glob(f"{_path_prefix(layout)}*")) if root.is_dir() else []
    return [path for path in found if path != ours]


def prepare_dir(layout: Layout, root: Path = OUTSIDE, warn: Callable[[str], None] = print) -> None:
    """Postgres' folder, 0700, where the server's user can reach it: ``.stack/pg`` when the
    stack runs as that user; as root, a folder of the postgres user outside the private
    ``.stack`` (``outside_dir``) with ``.stack/pg`` pointing at it. Call only while the server
    is stopped: a folder an older version made inside ``.stack`` is moved out."""
    layout.stack_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    if os.geteuid() != 0:
        layout.pg.mkdir(mode=0o700, exist_ok=True)
        layout.pg.chmod(0o700)
        return
    real = outside_dir(layout, root)
    if layout.pg.is_dir() and not layout.pg.is_symlink():
        real.parent.mkdir(parents=True, exist_ok=True)
        moved = subprocess.run(["mv", str(layout.pg), str(real)], capture_output=True, text=True)
        if moved.returncode != 0:
            raise StackError(f"moving {layout.pg} to {real} failed: {moved.stderr.strip()}")
    real.mkdir(mode=0o700, parents=True, exist_ok=True)
    shutil.chown(real, "postgres", "postgres")
    real.chmod(0o700)
    if not layout.pg.is_symlink():
        layout.pg.symlink_to(real)
        for old in leftovers(layout, root):
            warn(
                f"note: {old} holds a cluster an earlier clone at this path left; this clone "
                "has its own (that one's passwords left with its .env). `make clean` deletes it."
            )


def write_hba(pgdata: Path, clients: Sequence[str] = LOOPBACK) -> None:
    """Replace ``pgdata``'s pg_hba.conf with ``hba_conf(clients)``, as the server's user, 0600.
    A running server reads it on its next start or reload (``SELECT pg_reload_conf()``)."""
    target = shlex.quote(str(pgdata / "pg_hba.conf"))
    written = _run(["sh", "-c", f"cat > {target}"], input=hba_conf(clients), capture_output=True)
    if written.returncode != 0:
        raise StackError(f"writing {pgdata}/pg_hba.conf failed: {written.stderr.strip()}")


def initdb(layout: Layout, settings: StackSettings) -> bool:
    """Create the cluster once; return True if it was created now."""
    prepare_dir(layout)
    if (layout.pgdata / "PG_VERSION").exists():
        return False
    bin_dir = find_bin_dir()
    with tempfile.NamedTemporaryFile("w", dir=_real(layout.pg), delete=False) as pw:
        pw.write(settings.need("postgres_password").get_secret_value())
    if os.geteuid() == 0:
        shutil.chown(pw.name, "postgres", "postgres")
    try:
        result = _run(
            [
                str(bin_dir / "initdb"),
                "-D",
                str(_real(layout.pg) / "data"),
                "-U",
                settings.postgres_user,
                f"--pwfile={pw.name}",
                "--auth-local=scram-sha-256",
                "--auth-host=scram-sha-256",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
            ],
            capture_output=True,
        )
    finally:
        Path(pw.name).unlink()
    if result.returncode != 0:
        raise StackError(f"initdb failed:\n{result.stdout}\n{result.stderr}")
    conf = "".join(f"{k} = '{v}'\n" for k, v in server_options(settings).items())
    conf += f"unix_socket_directories = '{_real(layout.pg)}'\n"
    auto = _real(layout.pgdata) / "postgresql.auto.conf"
    _run(["sh", "-c", f"cat >> '{auto}'"], input=conf)
    write_hba(_real(layout.pgdata), hba_clients(settings))
    _create_database(bin_dir, _real(layout.pgdata), settings.postgres_db)
    return True


def _create_database(bin_dir: Path, data: Path, name: str) -> None:
    """``name`` made with the cluster, in single-user mode (no server, no port): a fresh
    container (compose, testcontainers) has its database as the official image's would."""
    if name == "postgres":
        return
    if not name.replace("_", "").isalnum():
        raise StackError(f"POSTGRES_DB={name!r}: use letters, digits and _ only")
    done = _run(
        [str(bin_dir / "postgres"), "--single", "-D", str(data), "postgres"],
        input=f'CREATE DATABASE "{name}"\n',
        capture_output=True,
    )
    if done.returncode != 0 or "ERROR" in done.stdout + done.stderr:
        raise StackError(f"creating database {name} failed:\n{done.stdout}{done.stderr}")


def _option_args(layout: Layout, settings: StackSettings) -> list[str]:
    """Options on the command line too, so every start (of a data directory any version of
    this launcher made) runs with today's; the socket lives in Postgres' own folder, which
    only its user may enter (where an older version's ``postgresql.auto.conf`` may say
    otherwise: the folder moved)."""
    options = {**server_options(settings), "unix_socket_directories": str(_real(layout.pg))}
    return [f"-p {settings.postgres_port}"] + [
        f"-c {k}={shlex.quote(v)}" for k, v in options.items()
    ]


def foreground_command(layout: Layout, settings: StackSettings) -> list[str]:
    """The server in the foreground, as a container runs it (``python -m stack serve``):
    today's access rules (``write_hba``) first."""
    write_hba(_real(layout.pgdata), hba_clients(settings))
    options = [arg for k, v in server_options(settings).items() for arg in ("-c", f"{k}={v}")]
    return [
        str(find_bin_dir() / "postgres"),
        "-D",
        str(_real(layout.pgdata)),
        "-p",
        str(settings.postgres_port),
        *options,
    ]


def start(layout: Layout, settings: StackSettings) -> None:
    """Start the server in the background (pg_ctl daemonizes; the pid is in postmaster.pid),
    with today's access rules (``write_hba``) and options."""
    prepare_dir(layout)
    write_hba(_real(layout.pgdata), hba_clients(settings))
    bin_dir = find_bin_dir()
    log = layout.log_file("postgres")
    result = _run(
        [
            str(bin_dir / "pg_ctl"),
            "-D",
            str(_real(layout.pgdata)),
            "-l",
            str(_real(log)),
            "-o",
            " ".join(_option_args(layout, settings)),
            "-w",
            "-t",
            "60",
            "start",
        ],
        capture_output=True,
    )
    if result.returncode != 0:
        from stack.process import tail

        raise StackError(
            f"postgres failed to start: {result.stdout.strip()} {result.stderr.strip()}\n"
            f"end of {log}:\n{tail(log)}"
        )


def stop(layout: Layout, mode: str = "fast") -> bool:
    """``mode`` as pg_ctl's: ``fast`` (a clean shutdown) or ``immediate`` (no checkpoint: the
    next start runs crash recovery, as after a power cut; the chaos run uses it)."""
    if pid(layout) is None:
        return False
    bin_dir = find_bin_dir()
    stop_cmd = [str(bin_dir / "pg_ctl"), "-D", str(_real(layout.pgdata)), "-m", mode, "-w"]
    _run([*stop_cmd, "stop"], capture_output=True)
    return True


def pid(layout: Layout) -> int | None:
    """The postmaster's pid if it is running."""
    from stack.process import alive, read_pid

    value = read_pid(layout.pgdata / "postmaster.pid")
    return value if alive(value) else None


def reload_hba(layout: Layout, settings: StackSettings) -> None:
    """Today's pg_hba.conf for a server that is already running, read at once."""
    import psycopg

    write_hba(_real(layout.pgdata))
    with psycopg.connect(settings.admin_dsn("postgres"), autocommit=True) as conn:
        conn.execute("SELECT pg_reload_conf()")
