"""The private Postgres cluster: Debian's binaries, our own data directory, port and config.

``initdb`` refuses to run as root, so when the launcher is root every Postgres command runs as the
``postgres`` user (``runuser``). If that user cannot reach ``.stack/pg`` (a clone under a private
folder such as ``mktemp -d``), the data lives under ``/var/lib/postgresql`` and ``.stack/pg`` is a
symlink to it, so the layout and ``clean`` stay the same.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from stack.health import StackError
from stack.layout import Layout
from stack.secrets import own_secrets
from stack.settings import StackSettings

# Logical decoding for Debezium; a few spare slots and senders for tests and tools.
SERVER_OPTIONS = {
    "wal_level": "logical",
    "max_replication_slots": "10",
    "max_wal_senders": "10",
    "max_connections": "200",
    "shared_buffers": "256MB",
    # Commit times of rows (pg_xact_commit_timestamp): the benchmark's latency clock.
    "track_commit_timestamp": "on",
    # Statements per role and database: the benchmark counts what each relay sends when idle.
    "shared_preload_libraries": "pg_stat_statements",
}


def server_options(settings: StackSettings) -> dict[str, str]:
    """``SERVER_OPTIONS`` and where to listen (127.0.0.1 natively, every address in a
    container, whose port compose publishes on the host's 127.0.0.1 only)."""
    bind = settings.stack_bind_host
    return {**SERVER_OPTIONS, "listen_addresses": "*" if bind == "0.0.0.0" else bind}  # noqa: S104


def client_rules(settings: StackSettings) -> str:
    """pg_hba.conf lines beyond initdb's loopback ones: in a container the other services
    connect from the compose network. A password (SCRAM) is needed all the same, and physical
    replication (the ``replication`` keyword) is not opened to them."""
    if settings.stack_bind_host in ("127.0.0.1", "localhost"):
        return ""
    return "host all all all scram-sha-256\n"


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
    return subprocess.run(_as_postgres(argv), cwd="/", text=True, check=False, **kwargs)


def _as_postgres(argv: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return argv
    return ["runuser", "-u", "postgres", "--", *argv]


def _postgres_can_reach(path: Path) -> bool:
    if os.geteuid() != 0:
        return True
    probe = _run(["test", "-w", str(path)])
    return probe.returncode == 0


def prepare_dir(layout: Layout) -> None:
    """Create ``.stack/pg`` where the server's user can write it."""
    if layout.pg.exists():
        return
    layout.stack_dir.mkdir(parents=True, exist_ok=True)
    layout.pg.mkdir()
    if os.geteuid() == 0:
        shutil.chown(layout.pg, "postgres", "postgres")
        if not _postgres_can_reach(layout.pg):
            layout.pg.rmdir()
            digest = hashlib.sha1(str(layout.root).encode()).hexdigest()[:12]  # noqa: S324
            real = Path("/var/lib/postgresql") / f"outbox-stack-{digest}"
            real.mkdir(parents=True, exist_ok=True)
            shutil.chown(real, "postgres", "postgres")
            layout.pg.symlink_to(real)


def initdb(layout: Layout, settings: StackSettings) -> bool:
    """Create the cluster once; return True if it was created now."""
    if (layout.pgdata / "PG_VERSION").exists():
        return False
    prepare_dir(layout)
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
    rules = client_rules(settings)
    if rules:
        _run(["sh", "-c", f"cat >> '{_real(layout.pgdata) / 'pg_hba.conf'}'"], input=rules)
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


def _option_args(settings: StackSettings) -> list[str]:
    # Options on the command line too: a data directory made by an older version of this
    # launcher gets new ones (pg_stat_statements) on its next start.
    return [f"-p {settings.postgres_port}"] + [
        f"-c {k}={v}" for k, v in server_options(settings).items()
    ]


def foreground_command(layout: Layout, settings: StackSettings) -> list[str]:
    """The server in the foreground, as a container runs it (``python -m stack serve``)."""
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
    """Start the server in the background (pg_ctl daemonizes; the pid is in postmaster.pid)."""
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
            " ".join(_option_args(settings)),
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
