"""What ``dlq-replay`` trusts: only a dead letter it can prove came from the event topic.

A group's principal may write its own dead-letter topic (it must, to dead-letter), so a record
there proves nothing: a compromised or buggy group could put a valid ``OrderPlaced`` for an
order that never existed there, and a replay would apply it. The event topic, written only by
Connect, is the source of truth. So a dead letter is replayed only when its origin headers
(``dlq.topic``, ``dlq.partition``, ``dlq.offset``) name a record that is still on the event
topic with the same key and the same bytes. A letter dead-lettered again by an earlier replay
names its earlier copy in the dead-letter topic, which must match it in turn, until the chain
reaches the event topic (at most ``MAX_HOPS`` copies, each at an earlier offset).

Anything else is refused with the reason, and kept: the letter stays in the dead-letter topic,
nothing is marked, and the verb exits 3. Headers other than the origin's are not compared:
the event id and type a handler uses are read from the payload (a header that contradicts it
makes the message poison), so identical bytes are the identical event.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from kafka import KafkaConsumer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord

from contract import headers as h

MAX_HOPS = 8
Position = tuple[str, int, int]  # topic, partition, offset


@dataclass(frozen=True)
class Refusal:
    """A dead letter that is not replayed, where it is, and why."""

    partition: int
    offset: int
    event_id: str | None
    reason: str

    def describe(self, topic: str) -> str:
        event = f" (event {shown(self.event_id)})" if self.event_id else ""
        return f"{topic}[{self.partition}]@{self.offset}{event}: {self.reason}"


def shown(text: str, limit: int = 80) -> str:
    """Text a forger chose (a header), safe to print: control characters escaped, cut."""
    safe = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text[:limit])
    return safe + ("..." if len(text) > limit else "")


def _origin(record: ConsumerRecord) -> Position | str:
    """The position a dead letter says it came from, or why it says none."""
    found = h.decode_headers(record.headers or ())
    if h.DLQ_OMITTED in found:
        omitted = shown(found[h.DLQ_OMITTED])
        return f"the dead letter holds no {omitted} (too large to dead-letter whole)"
    try:
        return found[h.DLQ_TOPIC], int(found[h.DLQ_PARTITION]), int(found[h.DLQ_OFFSET])
    except KeyError:
        return "no origin headers (dlq.topic, dlq.partition, dlq.offset): not a dead letter"
    except ValueError:
        return "origin headers that are not a partition and an offset"


class Reader:
    """Reads single records by position with one assigned consumer."""

    def __init__(self, consumer: KafkaConsumer) -> None:
        self._c = consumer
        self._bounds: dict[TopicPartition, tuple[int, int]] = {}

    def bounds(self, tp: TopicPartition) -> tuple[int, int]:
        if tp not in self._bounds:
            self._bounds[tp] = (
                self._c.beginning_offsets([tp])[tp],
                self._c.end_offsets([tp])[tp],
            )
        return self._bounds[tp]

    def at(self, topic: str, partition: int, offset: int) -> ConsumerRecord | str:
        tp = TopicPartition(topic, partition)
        if partition not in (self._c.partitions_for_topic(topic) or set()):
            return f"{topic} has no partition {partition}"
        first, end = self.bounds(tp)
        if not first <= offset < end:
            return f"{topic}[{partition}]@{offset} is no longer (or never was) on the topic"
        return next(self.records(tp, offset, offset + 1), f"{topic}[{partition}]@{offset} is gone")

    def records(self, tp: TopicPartition, start: int, stop: int) -> Iterator[ConsumerRecord]:
        """The records of ``tp`` from ``start`` up to ``stop`` (a compacted gap skipped)."""
        self._c.assign([tp])
        self._c.seek(tp, start)
        idle = 0
        while idle < 20:
            batch = self._c.poll(timeout_ms=500, max_records=500).get(tp, [])
            idle = idle + 1 if not batch else 0
            for record in batch:
                if record.offset >= stop:
                    return
                yield record
            if batch and batch[-1].offset + 1 >= stop:
                return


def refusal(reader: Reader, letter: ConsumerRecord, event_topic: str) -> str | None:
    """None when ``letter`` is proven to carry a record of ``event_topic``; else why not."""
    current = letter
    for _ in range(MAX_HOPS):
        origin = _origin(current)
        if isinstance(origin, str):
            return origin
        topic, partition, offset = origin
        if topic not in (event_topic, letter.topic):
            return f"its origin {shown(topic)} is not the event topic {event_topic}"
        if topic == letter.topic and (partition, offset) >= (current.partition, current.offset):
            return f"its origin {topic}[{partition}]@{offset} does not come before it"
        found = reader.at(topic, partition, offset)
        if isinstance(found, str):
            return found
        if found.key != letter.key:
            return f"its key differs from the record's at {topic}[{partition}]@{offset}"
        if found.value != letter.value:
            return f"its bytes differ from the record's at {topic}[{partition}]@{offset}"
        if topic == event_topic:
            return None
        current = found
    return f"more than {MAX_HOPS} dead-letter copies deep"


def check(
    reader: Reader,
    dlq: str,
    event_topic: str,
    ranges: Mapping[int, tuple[int, int]],
    ids: set[str] | None = None,
) -> tuple[set[tuple[int, int]], list[Refusal]]:
    """The positions of ``dlq`` (per partition, ``[start, stop)``) proven to come from
    ``event_topic``, and a refusal for every other one (``ids``: only letters of those
    events are looked at)."""
    letters = [
        record
        for partition, (start, stop) in sorted(ranges.items())
        if start < stop
        for record in reader.records(TopicPartition(dlq, partition), start, stop)
    ]
    proven: set[tuple[int, int]] = set()
    refused: list[Refusal] = []
    for letter in letters:
        event_id = h.decode_headers(letter.headers or ()).get(h.EVENT_ID)
        if ids is not None and event_id not in ids:
            continue
        why = refusal(reader, letter, event_topic)
        if why is None:
            proven.add((letter.partition, letter.offset))
        else:
            refused.append(Refusal(letter.partition, letter.offset, event_id, why))
    return proven, refused
