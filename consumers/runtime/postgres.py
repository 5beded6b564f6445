"""The Postgres side of the runtime: one transaction per batch, a savepoint per message.

Driver errors are translated here, so the middleware knows only the runtime's named errors:
a broken connection is an ``Outage`` (wait, then run the batch again), a deadlock or a
serialization failure is a ``BatchConflict`` (run the batch again), anything else is the
handler's failure (retried, then dead-lettered).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg

from consumers.runtime.errors import BatchConflict, Outage
from consumers.runtime.store import PostgresProcessedEvents


class PostgresTransaction:
    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self._conn = conn
        self.processed = PostgresProcessedEvents(conn)

    @property
    def connection(self) -> psycopg.Connection[Any]:
        return self._conn

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        with translate_errors(self._conn), self._conn.transaction():
            yield


@contextmanager
def translate_errors(conn: psycopg.Connection[Any] | None) -> Iterator[None]:
    try:
        yield
    except psycopg.Error as exc:
        if is_conflict(exc):
            raise BatchConflict(str(exc).strip()) from exc
        if isinstance(exc, psycopg.OperationalError) and (
            conn is None or conn.broken or conn.closed
        ):
            raise Outage(f"postgres: {str(exc).strip() or exc!r}") from exc
        raise


# Class 40 (transaction rollback: 40001 serialization_failure, 40P01 deadlock_detected) and
# 55P03 lock_not_available (our lock_timeout). psycopg 3's exception classes are flat under
# OperationalError (DeadlockDetected is not a TransactionRollback), so match the SQLSTATE.
CONFLICT_SQLSTATES = ("40", "55P03")


def is_conflict(exc: psycopg.Error) -> bool:
    return bool(exc.sqlstate) and str(exc.sqlstate).startswith(CONFLICT_SQLSTATES)


class PostgresTransactions:
    """Opens batch transactions on one connection, reconnecting after an outage."""

    def __init__(self, conninfo: str, statement_timeout_ms: int) -> None:
        self._conninfo = conninfo
        self._timeout = statement_timeout_ms
        self._conn: psycopg.Connection[Any] | None = None

    def _connection(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed or self._conn.broken:
            try:
                self._conn = psycopg.connect(self._conninfo, autocommit=True, connect_timeout=3)
            except psycopg.OperationalError as exc:
                raise Outage(f"postgres: {str(exc).strip()}") from exc
        return self._conn

    @contextmanager
    def begin(self) -> Iterator[PostgresTransaction]:
        """Commit when the block ends normally; roll back when it raises."""
        conn = self._connection()
        with translate_errors(conn), conn.transaction():
            # Waiting for a row lock is contention, not a slow handler: give it up sooner, as a
            # BatchConflict (55P03), and keep statement_timeout for handlers that overrun.
            conn.execute(f"SET LOCAL statement_timeout = {int(self._timeout)}")
            conn.execute(f"SET LOCAL lock_timeout = {int(self._timeout) // 2}")
            yield PostgresTransaction(conn)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
