"""The error taxonomy: every Postgres error class and Kafka error the consumer path meets is
classified by its cause, and the cause alone decides retry-then-dead-letter (the message),
wait-forever (the infrastructure) or run-again (a conflict)."""

from __future__ import annotations

import psycopg
import pytest
from kafka import errors as kafka_errors
from psycopg import errors

from consumer_runtime.adapters.postgres import translate_errors
from consumer_runtime.causes import Cause, kafka_cause, postgres_cause
from consumer_runtime.errors import BatchConflict, Outage


def _error(sqlstate: str) -> psycopg.Error:
    return errors.lookup(sqlstate)(f"[{sqlstate}]")


@pytest.mark.parametrize(
    ("sqlstate", "cause"),
    [
        # The message's fault: data, constraints, a raise in a trigger or function.
        ("22012", Cause.MESSAGE),  # division by zero
        ("22P02", Cause.MESSAGE),  # invalid text representation
        ("23505", Cause.MESSAGE),  # unique violation
        ("23514", Cause.MESSAGE),  # check violation
        ("P0001", Cause.MESSAGE),  # raise_exception
        ("42601", Cause.MESSAGE),  # syntax error: the handler's code, per message
        # The infrastructure's: server, disk, memory, connections, configuration.
        ("53100", Cause.INFRASTRUCTURE),  # disk full
        ("53200", Cause.INFRASTRUCTURE),  # out of memory
        ("53300", Cause.INFRASTRUCTURE),  # too many connections
        ("25006", Cause.INFRASTRUCTURE),  # read-only transaction (failover, guard)
        ("58030", Cause.INFRASTRUCTURE),  # I/O error
        ("57014", Cause.INFRASTRUCTURE),  # cancelled by someone (our bound: see ``bound``)
        ("57P01", Cause.INFRASTRUCTURE),  # admin shutdown
        ("57P03", Cause.INFRASTRUCTURE),  # cannot connect now (starting up, recovering)
        ("08006", Cause.INFRASTRUCTURE),  # connection failure
        ("28P01", Cause.INFRASTRUCTURE),  # password authentication failed
        ("3D000", Cause.INFRASTRUCTURE),  # database does not exist
        ("42501", Cause.INFRASTRUCTURE),  # insufficient privilege
        ("42P01", Cause.INFRASTRUCTURE),  # undefined table: migrations not applied
        ("XX001", Cause.INFRASTRUCTURE),  # data corrupted
        ("F0000", Cause.INFRASTRUCTURE),  # config file error
        ("25P03", Cause.INFRASTRUCTURE),  # idle-in-transaction timeout (ours: see ``bound``)
        # Conflicts between instances.
        ("40001", Cause.CONFLICT),  # serialization failure
        ("40P01", Cause.CONFLICT),  # deadlock detected
        ("55P03", Cause.CONFLICT),  # lock not available (lock_timeout)
    ],
)
def test_postgres_errors_are_classified_by_sqlstate(sqlstate: str, cause: Cause) -> None:
    assert postgres_cause(_error(sqlstate)) is cause


def test_a_lost_connection_is_the_infrastructures_whatever_the_sqlstate() -> None:
    assert postgres_cause(_error("23505"), connection_lost=True) is Cause.INFRASTRUCTURE
    assert postgres_cause(psycopg.OperationalError("no answer")) is Cause.INFRASTRUCTURE
    assert postgres_cause(psycopg.InterfaceError("connection closed")) is Cause.INFRASTRUCTURE


class _Live:
    broken = closed = False


@pytest.mark.parametrize(
    ("sqlstate", "raised"),
    [
        ("53100", Outage),
        ("25006", Outage),
        ("57014", Outage),
        ("40P01", BatchConflict),
        ("55P03", BatchConflict),
        ("23514", errors.CheckViolation),
    ],
)
def test_translate_errors_raises_what_the_cause_says(
    sqlstate: str, raised: type[Exception]
) -> None:
    with pytest.raises(raised), translate_errors(_Live()):  # type: ignore[arg-type]
        raise _error(sqlstate)


def test_an_outage_names_the_sqlstate() -> None:
    with pytest.raises(Outage, match=r"postgres \[53100\]"), translate_errors(_Live()):  # type: ignore[arg-type]
        raise _error("53100")


@pytest.mark.parametrize(
    ("exc", "cause"),
    [
        (ValueError("Need at least one: key or value"), Cause.MESSAGE),
        (kafka_errors.MessageSizeTooLargeError("too big"), Cause.MESSAGE),
        (kafka_errors.RecordListTooLargeError(), Cause.MESSAGE),
        (kafka_errors.InvalidRecordError(), Cause.MESSAGE),
        (kafka_errors.KafkaTimeoutError("no metadata"), Cause.INFRASTRUCTURE),
        (kafka_errors.BrokerNotAvailableError(), Cause.INFRASTRUCTURE),
        (kafka_errors.TopicAuthorizationFailedError(), Cause.INFRASTRUCTURE),
        (kafka_errors.NotLeaderForPartitionError(), Cause.INFRASTRUCTURE),
    ],
)
def test_dead_letter_send_errors_are_classified(exc: BaseException, cause: Cause) -> None:
    assert kafka_cause(exc) is cause


def test_a_broken_connection_is_an_outage() -> None:
    class Broken:
        broken, closed = True, False

    with pytest.raises(Outage), translate_errors(Broken()):  # type: ignore[arg-type]
        raise psycopg.OperationalError("server closed the connection unexpectedly")
