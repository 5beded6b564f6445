"""What the stack's Postgres server is started with and who may connect to it how: pure
values and text, rendered the same for the native stack and the compose image
(``stack.postgres`` writes and applies them).

Physical replication is refused to every role (``hba_conf``), so the Debezium role's
REPLICATION attribute serves its logical replication connection to the app database and
nothing else (no ``pg_basebackup`` of the data directory, with every role's password verifier
in it); slots and WAL senders are sized to the stack's need.
"""

from __future__ import annotations

from collections.abc import Sequence

from stack.settings import StackSettings

# Sized to the stack's need: the connector's slot and one spare (a connector moved to a new
# slot, an operator's look at the stream); its replication connection, the one that replaces
# it after a crash while the old one times out, and the spare's. Each slot a role can create
# can also hold WAL back, so the spare room is kept small.
MAX_REPLICATION_SLOTS = 2
SERVER_OPTIONS = {
    "wal_level": "logical",
    "max_replication_slots": str(MAX_REPLICATION_SLOTS),
    "max_wal_senders": "3",
    # Every replication command (CREATE_REPLICATION_SLOT, START_REPLICATION) in the log with its
    # role: a slot the alert saw come and go leaves a trace of who made it.
    "log_replication_commands": "on",
    # The local socket (Postgres' own folder) for its own user only; clients use TCP.
    "unix_socket_permissions": "0700",
    "max_connections": "200",
    "shared_buffers": "256MB",
    # Commit times of rows (pg_xact_commit_timestamp): the benchmark's latency clock.
    "track_commit_timestamp": "on",
    # Statements per role and database: the benchmark counts what each relay sends when idle.
    "shared_preload_libraries": "pg_stat_statements",
}
# Where the stack's clients connect from (the native stack: loopback only).
LOOPBACK = ("127.0.0.1/32", "::1/128")


def hba_conf(clients: Sequence[str] = LOOPBACK) -> str:
    """pg_hba.conf: password (SCRAM) logins from ``clients`` to any database the role may
    CONNECT to (``stack.dbinit`` grants that per role), and no physical replication at all.
    A logical replication connection names its database, so Debezium's matches the
    ``all``-databases lines like any other connection; the ``replication`` keyword matches
    only physical ones (a standby, ``pg_basebackup``), which this stack never has."""
    lines = [
        "# Written by the outbox stack at every start (stack/postgres.py); edits are replaced.",
        "# First match wins. TYPE DATABASE USER [ADDRESS] METHOD",
        "local replication all reject",
        "host replication all all reject",
        "local all all scram-sha-256",
        *(f"host all all {client} scram-sha-256" for client in clients),
    ]
    return "\n".join(lines) + "\n"


def server_options(settings: StackSettings) -> dict[str, str]:
    """``SERVER_OPTIONS`` and where to listen (127.0.0.1 natively, every address in a
    container, whose port compose publishes on the host's 127.0.0.1 only)."""
    bind = settings.stack_bind_host
    return {**SERVER_OPTIONS, "listen_addresses": "*" if bind == "0.0.0.0" else bind}  # noqa: S104


def hba_clients(settings: StackSettings) -> Sequence[str]:
    """Where clients connect from: loopback natively; any address in a container, where the
    other services come from the compose network (compose publishes the port on the host's
    127.0.0.1 only). A password is needed all the same, and physical replication is refused
    to every one of them."""
    if settings.stack_bind_host in ("127.0.0.1", "localhost"):
        return LOOPBACK
    return ("all",)
