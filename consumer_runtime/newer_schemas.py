"""Events written with a schema version newer than this process knows: wait, don't poison.

Without a schema registry a consumer can decode only the writer schemas it was deployed
with. When a producer ships ``OrderPlaced`` v3 before the consumers have the v3 file, the
v3 events are not the message's fault (the bytes are fine; this process is old) and
dead-lettering them would break per-order ordering: the order's later ``OrderCancelled``
(v1, readable) would be applied before its ``OrderPlaced``, notifications would go out in
the wrong order, and every such event would need a replay after the upgrade.

So the partition **waits**: the gate hands the applier only the messages before the first
newer one, seeks the partition back to it and pauses it; the group's other partitions go on.
The upgraded process (a deploy with the new schema file) finds the partition at that offset
and goes on in order. One log line per held position, the ``waiting_for_schema`` count in
every ``Turn`` (a gauge and an alert), and Kafka's lag on that partition tell the operator.

What counts as newer: the fingerprint is unknown, the ``event_type`` header names a type
this process knows, and the ``schema_version`` header is above the highest version it knows
of that type. Anything else with an unknown fingerprint (no version header, a version it
has, an unknown type) is corrupt, and the decode step dead-letters it as before.

The wait is bounded (``max_wait``, from the record's own timestamp, so a restart does not
reset it): past it the event is let through and dead-lettered like any undecodable message,
because no record of any shape may stop a partition for ever. A held partition is resumed
every ``recheck`` seconds to look again (its next fetch holds it again if nothing changed).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from kafka import TopicPartition

from consumer_runtime.message import Message
from consumer_runtime.ports import Consumer
from contract import SchemaRepository
from contract import headers as h
from contract.codec import HEADER_SIZE, MARKER

log = logging.getLogger("consumers.schemas")


@dataclass(frozen=True)
class Held:
    """A partition waiting at ``offset`` for a process that knows ``event_type`` v``version``."""

    offset: int
    event_type: str
    version: int
    since: float  # this process's clock when it first held it here


class NewerSchemaGate:
    def __init__(
        self,
        repository: SchemaRepository,
        event_types: Iterable[str],
        group: str,
        *,
        max_wait: float,
        recheck: float = 30.0,
        clock: Callable[[], float],
        wall_clock: Callable[[], float],
    ) -> None:
        self._known = frozenset(v.fingerprint_bytes for v in repository)
        self._latest = {t: max(v.version for v in repository.versions(t)) for t in event_types}
        self._group = group
        self._max_wait = max_wait
        self._recheck = recheck
        self._clock = clock
        self._wall = wall_clock
        self.held: dict[TopicPartition, Held] = {}
        self._resumed_at: float | None = None

    def split(self, messages: list[Message]) -> tuple[list[Message], dict[TopicPartition, Held]]:
        """The messages to apply now, and the partitions to hold from a given offset on."""
        stop: dict[TopicPartition, Held] = {}
        ready = []
        for m in messages:
            tp = TopicPartition(m.topic, m.partition)
            if tp in stop:
                continue
            newer = self.newer(m)
            if newer is not None and not self._waited_out(m):
                before = self.held.get(tp)
                since = before.since if before and before.offset == m.offset else self._clock()
                stop[tp] = Held(m.offset, *newer, since)
                continue
            ready.append(m)
        for tp, held in stop.items():
            if tp not in self.held or self.held[tp].offset != held.offset:
                log.warning(
                    "group %s waits at %s[%d]@%d: %s v%d is newer than this process knows "
                    "(up to v%d); the partition is paused until a consumer with that schema "
                    "is deployed, or for at most %.0fs from the event's time, then dead-letters "
                    "it",
                    self._group,
                    tp.topic,
                    tp.partition,
                    held.offset,
                    held.event_type,
                    held.version,
                    self._latest[held.event_type],
                    self._max_wait,
                )
        self.held.update(stop)
        return ready, stop

    def newer(self, m: Message) -> tuple[str, int] | None:
        """(event type, version) when ``m`` was written with a newer schema than this process
        holds; None when it is readable, or unreadable for any other reason. A readable
        message costs one slice and one set lookup."""
        value = m.value
        if value is None or len(value) < HEADER_SIZE or value[:2] != MARKER:
            return None
        if value[2:HEADER_SIZE] in self._known:
            return None
        event_type, version = m.header(h.EVENT_TYPE), m.header(h.SCHEMA_VERSION)
        if event_type not in self._latest or version is None or not version.isdigit():
            return None
        return (event_type, int(version)) if int(version) > self._latest[event_type] else None

    def _waited_out(self, m: Message) -> bool:
        written = m.timestamp_ms / 1000 if m.timestamp_ms > 0 else self._wall()
        return self._wall() - written > self._max_wait

    def hold(self, consumer: Consumer, stop: dict[TopicPartition, Held]) -> None:
        """Seek each partition back to where it waits and pause it (if still owned)."""
        owned = consumer.assignment()
        for tp, held in stop.items():
            if tp in owned:
                consumer.seek(tp, held.offset)
                consumer.pause(tp)

    def turned(self, consumer: Consumer, owned: set[TopicPartition]) -> None:
        """Each turn of the poll loop: forget partitions a rebalance took (a new owner holds
        them again if it must), and every ``recheck`` seconds resume the held ones for
        another look."""
        for tp in [tp for tp in self.held if tp not in owned]:
            del self.held[tp]
        now = self._clock()
        if self.held and (self._resumed_at is None or now - self._resumed_at >= self._recheck):
            self._resumed_at = now
            consumer.resume(*self.held)

    def passed(self, messages: Iterable[Message]) -> None:
        """These were applied: a partition held before them has moved on."""
        for m in messages:
            tp = TopicPartition(m.topic, m.partition)
            if tp in self.held and m.offset >= self.held[tp].offset:
                log.info("group %s goes on at %s[%d]@%d", self._group, *tp, m.offset)
                del self.held[tp]
