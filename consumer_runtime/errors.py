"""Named errors of the consumer path. Each one decides what happens to the message:

- ``PoisonMessage``: retrying cannot help (bytes do not decode, unknown schema or event type);
  dead-lettered at once.
- ``Outage``: the database or Kafka is unreachable; not the message's fault, so the batch is
  rolled back and waited out with backoff; never dead-lettered, nothing skipped.
- ``BatchConflict``: a deadlock or serialization failure between instances; the batch is rolled
  back and run again.
- ``Isolate``: a batch run optimistically (no savepoint per message) met a failure; it is
  rolled back and the failing message (all of the batch, when none is to blame) runs again
  with a savepoint of its own, where the failure is handled as above.
- anything else from a handler is a failure: retried with backoff, then dead-lettered.
"""

from __future__ import annotations

from contract.errors import UnknownEventType

__all__ = [
    "BatchConflict",
    "HandlerTimeout",
    "Isolate",
    "Outage",
    "PoisonMessage",
    "RetriesExhausted",
    "UnknownEventType",
]


class PoisonMessage(Exception):
    """The message can never be handled as it is."""


class Outage(Exception):
    """A dependency (Postgres, Kafka) is unreachable; wait, then run the batch again."""


class BatchConflict(Exception):
    """Concurrent transactions collided (deadlock, serialization); run the batch again."""


class Isolate(Exception):
    """Stop the optimistic batch and roll it back (see ``consumer_runtime.applier``).
    ``at``: the index in the batch of the message that failed, when one is to blame."""

    at: int | None = None


class HandlerTimeout(Exception):
    """The handler ran past the per-message deadline; its effect was rolled back."""


class RetriesExhausted(Exception):
    def __init__(self, attempts: int, last: BaseException) -> None:
        super().__init__(f"failed {attempts} times; last error: {last!r}")
        self.attempts = attempts
        self.last = last


# What the per-message middleware must let through to the processor untouched: none of these
# is the message's fault, so none may be retried per message or dead-lettered.
PASS_THROUGH: tuple[type[Exception], ...] = (Outage, BatchConflict, Isolate)
