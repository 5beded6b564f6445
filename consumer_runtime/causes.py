"""One error taxonomy, by cause, not by where an error surfaces.

Every error the consumer path can meet is one of three causes, and the cause alone decides
what happens to the message:

- ``MESSAGE``: the message is at fault (bytes that do not decode, an unknown type, a handler
  that raised on valid input, a constraint the event violates, a handler that overran its
  bound). Retried with backoff, then dead-lettered; the group moves on.
- ``INFRASTRUCTURE``: the server, disk, memory, network, configuration or a broker is at
  fault. The batch is rolled back and rewound, and retried with backoff for as long as it
  takes: never dead-lettered, never skipped. A disk-full episode must not drain the topic
  into the dead-letter topics.
- ``CONFLICT``: concurrent transactions collided (deadlock, serialization, lock timeout). The
  batch is rolled back and run again at once; nobody is at fault.

Postgres errors are classified by SQLSTATE class (the first two characters), which the
server sets for exactly this purpose; the tables below name every class and code that blames
the infrastructure. Anything not listed is the message's fault. A statement cancelled by our
own ``statement_timeout`` and a session ended by ``idle_in_transaction_session_timeout`` are
the handler overrunning its bound: ``middleware.bound`` turns them into
``HandlerTimeout`` (the message's fault) before they get here.
"""

from __future__ import annotations

import enum

import psycopg
from kafka import errors as kafka_errors


class Cause(enum.Enum):
    MESSAGE = "message"
    INFRASTRUCTURE = "infrastructure"
    CONFLICT = "conflict"


# Class 40: transaction rollback (40001 serialization_failure, 40P01 deadlock_detected);
# 55P03 lock_not_available (our lock_timeout).
CONFLICT_SQLSTATES = ("40", "55P03")

INFRASTRUCTURE_CLASSES = {
    "08": "connection exception",
    "28": "invalid authorization (password changed, login revoked)",
    "3D": "invalid catalog name (database missing)",
    "53": "insufficient resources (53100 disk full, 53200 out of memory, 53300 too many "
    "connections)",
    "57": "operator intervention (57014 cancelled, 57P01 admin shutdown, 57P03 cannot connect now)",
    "58": "system error (58030 I/O error)",
    "F0": "configuration file error",
    "HV": "foreign data wrapper error",
    "XX": "internal error (XX001 data corrupted)",
}
INFRASTRUCTURE_CODES = {
    "25006": "read-only transaction (a failover, or default_transaction_read_only)",
    "42501": "insufficient privilege (grants revoked or never given)",
    # The schema does not match the code (a migration not applied, or rolled back): every
    # message would fail alike, so dead-lettering them would only empty the topic.
    "3F000": "invalid schema name",
    "42P01": "undefined table",
    "42703": "undefined column",
    "42883": "undefined function",
}
# Our own bounds (see ``middleware.bound``): the message's fault when the handler overran.
STATEMENT_TIMEOUT = "57014"
IDLE_IN_TRANSACTION_TIMEOUT = "25P03"


def postgres_cause(exc: psycopg.Error, *, connection_lost: bool = False) -> Cause:
    """``connection_lost``: the connection is broken or closed after the error, whatever the
    SQLSTATE said (a server that crashed mid-statement may report nothing else)."""
    state = str(exc.sqlstate or "")
    if state.startswith(CONFLICT_SQLSTATES):
        return Cause.CONFLICT
    if (
        connection_lost
        or state[:2] in INFRASTRUCTURE_CLASSES
        or state in INFRASTRUCTURE_CODES
        or state == IDLE_IN_TRANSACTION_TIMEOUT
        # Raised by the client with no server answer at all: nothing was decided.
        or (not state and isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError))
    ):
        return Cause.INFRASTRUCTURE
    return Cause.MESSAGE


def is_own_bound(exc: BaseException) -> bool:
    """The statement or idle-in-transaction limit we set for a handler call was hit."""
    state = getattr(exc, "sqlstate", None)
    return state in (STATEMENT_TIMEOUT, IDLE_IN_TRANSACTION_TIMEOUT)


# A record that the dead-letter producer refuses for what it is, not for the broker's state:
# sending it again can never succeed, so it is sent in a reduced form instead.
UNWRITABLE_RECORD: tuple[type[BaseException], ...] = (
    ValueError,  # kafka-python: "Need at least one: key or value"
    kafka_errors.MessageSizeTooLargeError,
    kafka_errors.RecordListTooLargeError,
    kafka_errors.InvalidRecordError,
    kafka_errors.CorruptRecordError,
)


def kafka_cause(exc: BaseException) -> Cause:
    """A dead-letter send: an unwritable record is the message's fault; any other Kafka error
    (broker down, topic missing, not authorised, timed out) is the infrastructure's."""
    if isinstance(exc, UNWRITABLE_RECORD):
        return Cause.MESSAGE
    return Cause.INFRASTRUCTURE
