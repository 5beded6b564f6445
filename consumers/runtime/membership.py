"""The instance's membership of its group: how the watchdog checks and rejoins (``Rejoin``),
and what happens when partitions are revoked, assigned or lost (``Listener``)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from kafka import ConsumerRebalanceListener, TopicPartition

log = logging.getLogger("consumers.processor")


class Pending(Protocol):
    def commit_pending(
        self, only: set[TopicPartition] | None = None, *, blocking: bool = True
    ) -> None:
        """Commit the offsets whose batches the database already holds."""


@dataclass(frozen=True)
class Rejoin:
    """How the watchdog checks and rejoins: this instance's client id, the client ids of the
    group's members as the broker sees them, and a factory for a fresh Kafka client."""

    client_id: str
    members: Callable[[], list[str]]
    new_consumer: Callable[[], Any]
    after: float = 10.0


class Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, processor: Pending) -> None:
        self._processor = processor

    def on_partitions_revoked(self, revoked: Any) -> None:
        # Commit whatever the database already holds before another instance takes over.
        # The listener runs on kafka-python's IO thread, which must not block: best effort.
        self._processor.commit_pending(set(revoked), blocking=False)
        log.info("partitions revoked: %s", sorted(tp.partition for tp in revoked))

    def on_partitions_assigned(self, assigned: Any) -> None:
        log.info("partitions assigned: %s", sorted(tp.partition for tp in assigned))

    def on_partitions_lost(self, lost: Any) -> None:
        log.warning("partitions lost: %s", sorted(tp.partition for tp in lost))
