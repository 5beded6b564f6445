"""Offsets are committed only after the database commit: the positions a batch reached are
held here once its transaction committed, and committed to Kafka next. A failed offset commit
loses nothing (the database holds the effects; a redelivery is absorbed as duplicates)."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable

from kafka import TopicPartition
from kafka.errors import KafkaError
from kafka.structs import OffsetAndMetadata

from consumer_runtime.message import Message
from consumer_runtime.ports import Consumer

log = logging.getLogger("consumers.processor")


def _where(m: Message) -> TopicPartition:
    return TopicPartition(m.topic, m.partition)


class Offsets:
    def __init__(self, stats: Counter[str]) -> None:
        self._stats = stats
        self._pending: dict[TopicPartition, int] = {}
        # What this membership committed (or found committed) per partition, so that an idle
        # partition's position past a transaction's marker is committed once, not per poll.
        self._committed: dict[TopicPartition, int] = {}

    def applied(self, messages: Iterable[Message]) -> None:
        """These messages' effects are committed in the database: their offsets may go."""
        for m in messages:
            tp = _where(m)
            self._pending[tp] = max(self._pending.get(tp, -1), m.offset + 1)

    def forget(self) -> None:
        """A new client joined: the old membership's offsets can no longer be committed."""
        self._pending.clear()
        self._committed.clear()

    def past_markers(self, consumer: Consumer, owned: Iterable[TopicPartition]) -> bool:
        """On an idle poll, commit each owned partition's fetch position where it passed only
        offsets that are no messages: a transaction's commit or abort marker, an aborted
        transaction's records (Connect's exactly-once source writes both). Committing the last
        message + 1 would leave the group one behind per marker for good, which every lag check
        (make lag, the exporter, the chaos checker) reads as an event not handled; the Java
        consumer commits its position and does not. Safe because at an idle poll every message
        the client returned was applied (its offset pending or committed) or rewound (the
        position set back): the position is past nothing unhandled. True if it committed."""
        ahead: dict[TopicPartition, int] = {}
        for tp in owned:
            if tp in self._pending:
                continue  # its applied offsets go first (commit)
            try:
                position = consumer.position(tp, timeout_ms=0)
                if tp not in self._committed:
                    found = consumer.committed(tp)
                    self._committed[tp] = -1 if found is None else int(found)
            except KafkaError:
                continue
            if position is not None and position > self._committed[tp]:
                ahead[tp] = int(position)
        if not ahead:
            return False
        try:
            consumer.commit({tp: OffsetAndMetadata(off, "", -1) for tp, off in ahead.items()})
        except KafkaError as exc:
            log.warning("offset commit past markers failed, tried again when idle: %r", exc)
            return False
        self._committed.update(ahead)
        return True

    def commit(
        self, consumer: Consumer, only: set[TopicPartition] | None = None, *, blocking: bool = True
    ) -> bool:
        """True when offsets were committed (or, not blocking, sent)."""
        offsets = {tp: off for tp, off in self._pending.items() if only is None or tp in only}
        if not offsets:
            return False
        commit = consumer.commit if blocking else consumer.commit_async
        try:
            commit({tp: OffsetAndMetadata(off, "", -1) for tp, off in offsets.items()})
        except KafkaError as exc:
            self._stats["commit_failures"] += 1
            log.warning("offset commit failed, batch may be redelivered: %r", exc)
            return False
        for tp, off in offsets.items():
            self._pending.pop(tp, None)
            self._committed[tp] = off
        return True


class Progress:
    """Per partition, the next offset this instance will handle (the last applied + 1), and
    from it the lag: the high-water mark the broker last sent with a fetch, minus that. The
    client's fetch position stands in before anything was handled, and counts when it is
    ahead: past a transaction's marker it is beyond the last message + 1."""

    def __init__(self) -> None:
        self._next: dict[int, int] = {}

    def applied(self, messages: Iterable[Message]) -> None:
        for m in messages:
            self._next[m.partition] = max(self._next.get(m.partition, 0), m.offset + 1)

    def lag(self, consumer: Consumer, owned: set[TopicPartition]) -> dict[int, int | None]:
        mine = {tp.partition for tp in owned}
        for p in set(self._next) - mine:  # moved away: another instance's progress now
            del self._next[p]
        return {tp.partition: self._lag_of(consumer, tp) for tp in owned}

    def _lag_of(self, consumer: Consumer, tp: TopicPartition) -> int | None:
        try:
            high = consumer.highwater(tp)
            if high is None:
                return None
            position = consumer.position(tp, timeout_ms=0)
        except KafkaError:
            return None
        handled = self._next.get(tp.partition)
        if handled is None and position is None:
            return None
        return int(max(0, high - max(handled or 0, position or 0)))


def rewind(consumer: Consumer, messages: Iterable[Message]) -> None:
    """Seek each partition this instance still owns back to the first of ``messages``: the
    next poll fetches them again (after a rollback, or past a batch's time budget)."""
    first: dict[TopicPartition, int] = {}
    for m in messages:
        tp = _where(m)
        first[tp] = min(first.get(tp, m.offset), m.offset)
    assigned = consumer.assignment()
    for tp, offset in first.items():
        if tp in assigned:
            consumer.seek(tp, offset)
