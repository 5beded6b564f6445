"""The Postgres side of the runtime: one transaction per batch, a savepoint per message (or,
optimistically, none and every statement pipelined: see ``consumers.runtime.optimistic``).

Driver errors are translated here, so the middleware knows only the runtime's named errors:
a broken connection is an ``Outage`` (wait, then run the batch again), a deadlock or a
serialization failure is a ``BatchConflict`` (run the batch again), anything else is the
handler's failure (retried, then dead-lettered).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import psycopg

from consumers.runtime.errors import BatchConflict, Isolate, Outage
from consumers.runtime.store import PostgresProcessedEvents


class PostgresTransaction:
    isolated = True

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

    def defer(self, event: Any, context: Any) -> bool:
        return False  # isolated: every handler runs in its own savepoint, now


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


class PipelineSafeCursor(psycopg.Cursor[Any]):
    """In pipeline mode a statement's result arrives only at the next sync, and psycopg
    reports ``rowcount`` as -1 until then: a handler testing ``rowcount == 0`` would be
    silently wrong. Reading it here syncs first, so handlers need not know about pipelines."""

    @property
    def rowcount(self) -> int:
        if self.connection.pgconn.pipeline_status:
            with self.connection.pipeline():
                pass  # leaving a nested pipeline block syncs and fetches pending results
        return super().rowcount


class PostgresTransactions:
    """Opens batch transactions on one connection, reconnecting after an outage."""

    def __init__(self, conninfo: str, statement_timeout_ms: int) -> None:
        self._conninfo = conninfo
        self._timeout = statement_timeout_ms
        self._conn: psycopg.Connection[Any] | None = None

    def _connection(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed or self._conn.broken:
            try:
                self._conn = psycopg.connect(
                    self._conninfo,
                    autocommit=True,
                    connect_timeout=3,
                    cursor_factory=PipelineSafeCursor,
                    # Set once per session, not per batch (two statements fewer each time).
                    # Waiting for a row lock is contention, not a slow handler: give it up
                    # sooner, as a BatchConflict (55P03); statement_timeout is for overruns.
                    options=f"-c statement_timeout={int(self._timeout)} "
                    f"-c lock_timeout={int(self._timeout) // 2}",
                )
            except psycopg.OperationalError as exc:
                raise Outage(f"postgres: {str(exc).strip()}") from exc
        return self._conn

    @contextmanager
    def begin(self, *, optimistic: bool = False) -> Iterator[PostgresTransaction]:
        """Commit when the block ends normally; roll back when it raises.

        ``optimistic``: statements are pipelined (sent without waiting for each result), so
        an error may surface at a later statement or at commit; any driver error that is not
        an outage or a conflict then comes out as ``Isolate``, for the batch to be rerun."""
        conn = self._connection()
        try:
            with ExitStack() as stack:
                stack.enter_context(translate_errors(conn))
                if optimistic:
                    stack.enter_context(conn.pipeline())
                stack.enter_context(conn.transaction())
                yield PostgresTransaction(conn)
        except psycopg.Error as exc:
            if not optimistic:
                raise
            raise Isolate(f"{type(exc).__name__}: {str(exc).strip()}") from exc

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
