"""The Postgres adapter of the ``Transactions`` port (``consumer_runtime.ports``): one
transaction per batch, a savepoint per message (or, optimistically, none and every statement
pipelined: see ``consumer_runtime.optimistic``).

Driver errors are translated here by their cause (``consumer_runtime.causes``), so the
middleware knows only the runtime's named errors: the infrastructure's fault is an ``Outage``
(wait, then run the batch again on a fresh session), a deadlock, serialization failure or
lock timeout is a ``BatchConflict`` (run the batch again), anything else is the message's
(retried, then dead-lettered).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import psycopg

from consumer_runtime.adapters.processed_events import PostgresProcessedEvents
from consumer_runtime.causes import Cause, is_own_bound, postgres_cause
from consumer_runtime.errors import BatchConflict, Isolate, Outage


class PostgresTransaction:
    def __init__(self, conn: psycopg.Connection[Any], *, revive_dead_letters: bool = False) -> None:
        self._conn = conn
        self.processed = PostgresProcessedEvents(conn, revive_dead_letters=revive_dead_letters)

    @property
    def connection(self) -> psycopg.Connection[Any]:
        return self._conn

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        with translate_errors(self._conn), self._conn.transaction():
            yield

    def sync(self) -> None:
        """Pipelined statements sent since the last sync are synced now. Until a sync the
        server is not *idle* in its transaction (psycopg sends flush requests, not syncs,
        between statements), so ``idle_in_transaction_session_timeout`` cannot fire: a
        process that stopped there would hold its locks without limit."""
        if getattr(self._conn, UNSYNCED, False):
            with self._conn.pipeline():
                pass  # leaving a nested pipeline block syncs
            setattr(self._conn, UNSYNCED, False)


@contextmanager
def translate_errors(
    conn: psycopg.Connection[Any] | None, *, optimistic: bool = False
) -> Iterator[None]:
    """``optimistic``: statements were pipelined, so an error cannot be pinned on the handler
    call that sent it. Our own bound firing (a statement or idle timeout) then means rerun
    isolated, where the handler's bound sees it (``middleware.bound``), not an outage."""
    try:
        yield
    except psycopg.Error as exc:
        if optimistic and is_own_bound(exc):
            raise Isolate(f"bound hit in an optimistic batch: {exc!r}") from exc
        lost = conn is None or conn.broken or conn.closed
        cause = postgres_cause(exc, connection_lost=lost)
        if cause is Cause.CONFLICT:
            raise BatchConflict(str(exc).strip()) from exc
        if cause is Cause.INFRASTRUCTURE:
            state = f" [{exc.sqlstate}]" if exc.sqlstate else ""
            raise Outage(f"postgres{state}: {str(exc).strip() or exc!r}") from exc
        raise


UNSYNCED = "outbox_unsynced"


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

    def execute(self, *args: Any, **kwargs: Any) -> PipelineSafeCursor:
        if self.connection.pgconn.pipeline_status:
            setattr(self.connection, UNSYNCED, True)
        super().execute(*args, **kwargs)
        return self


def _still_open(conn: psycopg.Connection[Any]) -> None:
    """A pipelined error that some caller swallowed leaves the transaction aborted, and
    Postgres answers COMMIT of an aborted transaction with a silent ROLLBACK: the batch would
    be lost while its offsets move on. Sync and look before committing."""
    with conn.pipeline():
        pass
    if conn.info.transaction_status != psycopg.pq.TransactionStatus.INTRANS:
        raise Isolate(f"transaction not open before commit: {conn.info.transaction_status.name}")


class PostgresTransactions:
    """Opens batch transactions on one connection, and a fresh session after an outage: a
    session that saw the infrastructure fail (a failover left it on a read-only server, a
    guard was set on its role, the network dropped it) would fail alike.

    ``handler_bound`` (seconds) is enforced by the server on this session: no statement
    runs longer (``statement_timeout``), no transaction sits idle longer
    (``idle_in_transaction_session_timeout``: a handler blocked outside the database, or a
    stopped process, cannot hold its row locks past it), and waiting for a row lock gives up
    at half of it (``lock_timeout``: contention, a ``BatchConflict``). TCP keepalives and
    ``tcp_user_timeout`` notice a silent network (a partition, a frozen server) within
    seconds, where the kernel's defaults would wait a quarter of an hour."""

    def __init__(
        self, conninfo: str, handler_bound: float, *, revive_dead_letters: bool = False
    ) -> None:
        self._conninfo = conninfo
        self._timeout_ms = int(handler_bound * 1000)
        self._revive = revive_dead_letters
        self._conn: psycopg.Connection[Any] | None = None

    def _connection(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed or self._conn.broken:
            try:
                self._conn = psycopg.connect(
                    self._conninfo,
                    autocommit=True,
                    connect_timeout=3,
                    cursor_factory=PipelineSafeCursor,
                    keepalives=1,
                    keepalives_idle=5,
                    keepalives_interval=2,
                    keepalives_count=3,
                    tcp_user_timeout=self._timeout_ms + 5000,
                    # Set once per session, not per batch (statements fewer each time).
                    options=f"-c statement_timeout={self._timeout_ms} "
                    f"-c idle_in_transaction_session_timeout={self._timeout_ms} "
                    f"-c lock_timeout={self._timeout_ms // 2}",
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
                stack.enter_context(translate_errors(conn, optimistic=optimistic))
                if optimistic:
                    stack.enter_context(conn.pipeline())
                stack.enter_context(conn.transaction())
                yield PostgresTransaction(conn, revive_dead_letters=self._revive)
                if optimistic:
                    _still_open(conn)
        except Outage:
            self.close()
            raise
        except psycopg.Error as exc:
            if not optimistic:
                raise
            raise Isolate(f"{type(exc).__name__}: {str(exc).strip()}") from exc

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
