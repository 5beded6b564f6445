"""The instance's membership of its group: its Kafka client, subscribed once the topic's
partitions are known (``Membership``); how the watchdog checks and rejoins (``Rejoin``,
``Watchdog``); and what happens when partitions are revoked, assigned or lost (``Listener``)."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from kafka import ConsumerRebalanceListener, TopicPartition
from kafka.errors import KafkaError

from consumer_runtime.condition import Condition
from consumer_runtime.ports import Consumer

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
    new_consumer: Callable[[], Consumer]
    after: float = 10.0


class Watchdog:
    """Why: kafka-python 3.0.12 was seen to drop out of its group after a rebalance
    (partitions revoked, never rejoined) while still reporting its old assignment, then
    busy-poll a core for good. Every ``rejoin.after`` seconds the instance asks the broker
    whether its client id is among the group's members; missing twice in a row (once may be
    mid-rebalance), it must close its client and join with a new one."""

    def __init__(self, rejoin: Rejoin, clock: Callable[[], float]) -> None:
        self.rejoin = rejoin
        self._clock = clock
        self._last_check: float | None = None
        self._missing = 0

    def lost(self, condition: Condition) -> bool:
        """True when the instance should rejoin; at most one broker question per period."""
        now = self._clock()
        if self._last_check is not None and now - self._last_check < self.rejoin.after:
            return False
        self._last_check = now
        try:
            members = self.rejoin.members()
        except KafkaError as exc:
            condition.failing("kafka (group membership)", repr(exc))
            return False  # cannot tell: look again next time
        if self.rejoin.client_id in members:
            self._missing = 0
            return False
        self._missing += 1
        if self._missing < 2:
            return False
        self._missing = 0
        return True


class Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, group: str, processor: Pending, stats: Counter[str]) -> None:
        self.group = group
        self._processor = processor
        self._stats = stats

    def on_partitions_revoked(self, revoked: Any) -> None:
        # Commit whatever the database already holds before another instance takes over.
        # The listener runs on kafka-python's IO thread, which must not block: best effort.
        self._processor.commit_pending(set(revoked), blocking=False)
        log.info("partitions revoked: %s", sorted(tp.partition for tp in revoked))

    def on_partitions_assigned(self, assigned: Any) -> None:
        self._stats["rebalances"] += 1
        log.info("partitions assigned: %s", sorted(tp.partition for tp in assigned))

    def on_partitions_lost(self, lost: Any) -> None:
        log.warning("partitions lost: %s", sorted(tp.partition for tp in lost))


class Membership:
    """The instance's Kafka client and its place in the group. ``consumer`` is the client in
    use: the watchdog may replace it (``watch``). ``pause`` waits between two looks at a
    broker that does not answer; ``turned`` tells the loop it is still turning meanwhile."""

    def __init__(
        self,
        consumer: Consumer,
        topic: str,
        listener: Listener,
        condition: Condition,
        watchdog: Watchdog | None,
    ) -> None:
        self.consumer = consumer
        self._topic = topic
        self._listener = listener
        self._condition = condition
        self._watchdog = watchdog

    def join(self, done: Callable[[], bool], pause: Callable[[], None]) -> bool:
        """Subscribe once the topic's partitions are known, however long that takes; False if
        told to stop first. Joining while a restarted broker has no metadata for the topic
        yet gets an empty assignment, and kafka-python 3.0.12 was seen to leave such an
        instance outside its group, busy-polling."""
        while not done():
            try:
                if self.consumer.partitions_for_topic(self._topic):
                    self._condition.ok()
                    self.consumer.subscribe([self._topic], listener=self._listener)
                    return True
                self.consumer.topics()  # refresh metadata
                why = f"no partitions for {self._topic}"
                self._condition.failing("kafka (topic metadata)", why)
            except KafkaError as exc:
                self._condition.failing("kafka (topic metadata)", repr(exc))
            pause()
        return False

    def watch(
        self, done: Callable[[], bool], pause: Callable[[], None], forget: Callable[[], None]
    ) -> bool:
        """True when the watchdog found this instance out of its group and a new client took
        the old one's place (``join`` it next): the old client closed, and ``forget`` called
        first, since the old membership's offsets can no longer be committed."""
        if self._watchdog is None or not self._watchdog.lost(self._condition):
            return False
        log.warning(
            "not a member of group %s for %.0fs; rejoining with a new client",
            self._listener.group,
            self._watchdog.rejoin.after,
        )
        forget()
        self.consumer.close(autocommit=False)
        while not done():
            try:
                self.consumer = self._watchdog.rejoin.new_consumer()
                return True
            except KafkaError as exc:
                self._condition.failing("kafka (new client)", repr(exc))
                pause()
        return False
