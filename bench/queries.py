"""Statements a role sends to a database, counted by Postgres itself (pg_stat_statements), so
the polling relay and Debezium are measured the same way rather than each counting its own.

Every statement counts: a poll of the relay is BEGIN, SELECT ... FOR UPDATE SKIP LOCKED and
COMMIT; Debezium's heartbeat is one INSERT. Its replication stream is not a statement.
"""

from __future__ import annotations

import time

import psycopg

_CALLS = """
    SELECT coalesce(sum(s.calls), 0)::bigint
    FROM pg_stat_statements s
    JOIN pg_roles r ON r.oid = s.userid
    JOIN pg_database d ON d.oid = s.dbid
    WHERE r.rolname = %s AND d.datname = %s
"""


class NotCounted(Exception):
    """pg_stat_statements is not loaded (shared_preload_libraries) or not installed."""


def statements(admin_dsn: str, role: str, database: str) -> int:
    """Statements ``role`` has run in ``database`` since the server started."""
    try:
        with psycopg.connect(admin_dsn, autocommit=True) as conn:
            row = conn.execute(_CALLS, (role, database)).fetchone()
    except (psycopg.errors.UndefinedTable, psycopg.errors.ObjectNotInPrerequisiteState) as exc:
        raise NotCounted(str(exc).strip()) from exc
    return int(row[0]) if row else 0


def per_second_while(admin_dsn: str, role: str, database: str, seconds: float) -> float:
    """Statements per second ``role`` sends to ``database`` over the next ``seconds``."""
    before = statements(admin_dsn, role, database)
    time.sleep(seconds)
    return (statements(admin_dsn, role, database) - before) / seconds
