"""One suite, two stores: the fake processed-events store behaves like the Postgres one.

The Postgres store is driven as the table's owner, whose sessions the row-level policy does
not bind, so each test may pick groups of its own; the groups' roles, which it binds, run
the same statements in the integration tests of the runtime, and tests/security holds each
role to its own rows."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import psycopg
import pytest

from consumer_runtime.adapters.postgres import PostgresTransactions
from consumers.migrate import MigrationSettings
from tests.conftest import ROOT
from tests.consumer_fakes import FakeDatabase

Begin = Callable[[], AbstractContextManager[Any]]


def owner() -> str:
    settings = MigrationSettings(_env_file=ROOT / ".env")
    return settings.conninfo_for(settings.consumer_db_user, settings.consumer_db_password)


@contextmanager
def _aborted(begin: Begin) -> Iterator[Any]:
    class Abort(Exception):
        pass

    try:
        with begin() as tx:
            yield tx
            raise Abort
    except Abort:
        pass


@pytest.fixture(params=["fake", pytest.param("postgres", marks=pytest.mark.integration)])
def begin(request: pytest.FixtureRequest) -> Iterator[Begin]:
    if request.param == "fake":
        yield FakeDatabase().begin
        return
    request.getfixturevalue("postgres_up")
    transactions = PostgresTransactions(owner(), 5.0)
    yield transactions.begin
    transactions.close()


def test_first_mark_is_new_and_a_second_is_a_duplicate(begin: Begin) -> None:
    group, event = f"g-{uuid.uuid4()}", uuid.uuid4()
    with begin() as tx:
        assert tx.processed.mark(group, event, "t[0]@1") is True
        assert tx.processed.mark(group, event, "t[0]@1") is False  # same transaction
    with begin() as tx:
        assert tx.processed.mark(group, event, "t[0]@9") is False  # committed before


def test_mark_many_returns_only_the_new_ids_once(begin: Begin) -> None:
    group = f"g-{uuid.uuid4()}"
    old, new = uuid.uuid4(), uuid.uuid4()
    with begin() as tx:
        assert tx.processed.mark(group, old, "t[0]@1")
    with begin() as tx:
        fresh = tx.processed.mark_many(group, [(old, "t[0]@1"), (new, "t[0]@2"), (new, "t[0]@3")])
        assert fresh == {new}
        assert tx.processed.mark(group, new, "t[0]@2") is False  # same transaction
        assert tx.processed.mark_many(group, []) == set()
    with _aborted(begin) as tx:
        assert tx.processed.mark_many(group, [(other := uuid.uuid4(), "x")]) == {other}
    with begin() as tx:
        assert tx.processed.mark(group, other, "x") is True  # the rolled-back claim is gone


def test_groups_are_independent(begin: Begin) -> None:
    event = uuid.uuid4()
    with begin() as tx:
        assert tx.processed.mark(f"a-{uuid.uuid4()}", event, "x")
        assert tx.processed.mark(f"b-{uuid.uuid4()}", event, "x")


def test_a_rolled_back_mark_is_forgotten(begin: Begin) -> None:
    group, event = f"g-{uuid.uuid4()}", uuid.uuid4()
    with _aborted(begin) as tx:
        assert tx.processed.mark(group, event, "x")
    with begin() as tx:
        assert tx.processed.mark(group, event, "x") is True


def test_a_mark_undone_by_its_savepoint_is_forgotten(begin: Begin) -> None:
    group, event = f"g-{uuid.uuid4()}", uuid.uuid4()

    def failing_handler(tx: Any) -> None:
        with tx.savepoint():
            assert tx.processed.mark(group, event, "x")
            raise ValueError("handler failed")

    with begin() as tx:
        with pytest.raises(ValueError, match="handler failed"):
            failing_handler(tx)
        assert tx.processed.mark(group, event, "x") is True


def test_postgres_rows_carry_the_source_position(
    postgres_up: Any, admin_conn: psycopg.Connection[Any]
) -> None:
    transactions = PostgresTransactions(owner(), 5.0)
    group, event = f"g-{uuid.uuid4()}", uuid.uuid4()
    with transactions.begin() as tx:
        tx.processed.mark(group, event, "outbox.event.order[2]@17")
    transactions.close()
    row = admin_conn.execute(
        "SELECT source FROM consumers.processed_events WHERE consumer_group = %s AND event_id = %s",
        (group, event),
    ).fetchone()
    assert row == ("outbox.event.order[2]@17",)


test_postgres_rows_carry_the_source_position = pytest.mark.integration(
    test_postgres_rows_carry_the_source_position
)


@pytest.mark.integration
def test_rowcount_is_right_inside_a_pipelined_batch(postgres_up: Any) -> None:
    """psycopg reports rowcount -1 for a pipelined statement until the next sync; handlers
    read it (0 rows inserted = already there), so the runtime's cursor syncs first."""
    transactions = PostgresTransactions(owner(), 5.0)
    group, ids = f"g-{uuid.uuid4()}", [uuid.uuid4() for _ in range(3)]
    insert = (
        "INSERT INTO consumers.processed_events (consumer_group, event_id, source) "
        "VALUES (%s, %s, 'x') ON CONFLICT DO NOTHING"
    )
    try:
        with _aborted(lambda: transactions.begin(optimistic=True)) as tx:
            conn = tx.connection
            assert conn.pgconn.pipeline_status  # really pipelined
            assert conn.execute(insert, (group, ids[0])).rowcount == 1
            assert conn.execute(insert, (group, ids[0])).rowcount == 0
            with conn.cursor() as cur:
                cur.executemany(insert, [(group, ids[1]), (group, ids[0]), (group, ids[2])])
                assert cur.rowcount == 2
    finally:
        transactions.close()


@pytest.mark.integration
def test_a_late_error_in_a_pipelined_batch_is_isolate(postgres_up: Any) -> None:
    from consumer_runtime.errors import Isolate

    transactions = PostgresTransactions(owner(), 5.0)
    try:
        with (
            pytest.raises(Isolate, match="division by zero"),
            transactions.begin(optimistic=True) as tx,
        ):
            tx.connection.execute("SELECT 1 / 0")  # never read: reported at commit
        with transactions.begin() as tx:  # the connection is usable again
            assert tx.connection.execute("SELECT 1").fetchone() == (1,)
    finally:
        transactions.close()


@pytest.mark.integration
def test_waiting_on_a_row_lock_past_lock_timeout_is_a_batch_conflict(
    postgres_up: Any, admin_conn: psycopg.Connection[Any]
) -> None:
    """Every batch session runs with statement_timeout and lock_timeout = half of it: a batch
    stuck behind another transaction's row lock gives up as a BatchConflict (run again), not
    as a handler failure."""
    from consumer_runtime.errors import BatchConflict

    transactions = PostgresTransactions(owner(), 2.0)
    try:
        with transactions.begin() as tx:
            show = tx.connection.execute("SHOW statement_timeout").fetchone()
            assert show == ("2s",)
        with admin_conn.transaction():
            admin_conn.execute("SELECT 1 FROM consumers.stock WHERE sku = 'SKU-0001' FOR UPDATE")
            with (
                pytest.raises(BatchConflict, match="lock timeout"),
                transactions.begin() as tx,
                tx.savepoint(),
            ):
                tx.connection.execute(
                    "SELECT 1 FROM consumers.stock WHERE sku = 'SKU-0001' FOR UPDATE"
                )
    finally:
        transactions.close()


@pytest.mark.integration
def test_a_real_deadlock_between_two_batches_is_a_batch_conflict(postgres_up: Any) -> None:
    """Two batch transactions lock the same two rows in opposite order: Postgres aborts one
    with 40P01, which must come out as BatchConflict (rerun the batch), never as a handler
    failure that would be retried and dead-lettered."""
    import threading

    from consumer_runtime.errors import BatchConflict

    a, b = (PostgresTransactions(owner(), 20.0) for _ in range(2))
    skus = ("SKU-0001", "SKU-0002")
    barrier, outcomes = threading.Barrier(2), []

    def batch(transactions: PostgresTransactions, first: str, second: str) -> None:
        try:
            with transactions.begin() as tx, tx.savepoint():
                tx.connection.execute(
                    "SELECT 1 FROM consumers.stock WHERE sku = %s FOR UPDATE", (first,)
                )
                barrier.wait()
                tx.connection.execute(
                    "SELECT 1 FROM consumers.stock WHERE sku = %s FOR UPDATE", (second,)
                )
            outcomes.append("committed")
        except BatchConflict:
            outcomes.append("conflict")

    threads = [
        threading.Thread(target=batch, args=(a, *skus)),
        threading.Thread(target=batch, args=(b, *reversed(skus))),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    a.close()
    b.close()
    assert sorted(outcomes) == ["committed", "conflict"]
