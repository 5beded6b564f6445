"""Named errors of the consumer path. Each one decides what happens to the message:

- ``PoisonMessage``: retrying cannot help (bytes do not decode, unknown schema or event type);
  dead-lettered at once.
- ``Outage``: the database or Kafka is unreachable; not the message's fault, so the batch is
  rolled back and waited out with backoff; never dead-lettered, nothing skipped.
- ``BatchConflict``: a deadlock or serialization failure between instances; the batch is rolled
  back and run again.
- anything else from a handler is a failure: retried with backoff, then dead-lettered.
"""

from __future__ import annotations

from contract.errors import UnknownEventType

__all__ = [
    "BatchConflict",
    "HandlerTimeout",
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


class HandlerTimeout(Exception):
    """The handler ran past the per-message deadline; its effect was rolled back."""


class RetriesExhausted(Exception):
    def __init__(self, attempts: int, last: BaseException) -> None:
        super().__init__(f"failed {attempts} times; last error: {last!r}")
        self.attempts = attempts
        self.last = last
