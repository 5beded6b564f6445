"""``dlq-replay``: run a group's dead letters through its handler again, once the cause is
fixed. The replay tracks its progress in a Kafka group of its own (``<group>.replay``), so a
second replay only sees newer dead letters; idempotency is still keyed by the handler's name,
so a message already handled is skipped; a message whose only mark is its dead-lettering
runs again (``revive_dead_letters``). A message that fails again is dead-lettered again
(appended to the same topic): nothing is lost. With ``ids``, only those events are replayed,
from a throwaway group, and progress is not recorded. The stats say how many were ``todo``;
fewer done than todo (the deadline passed) is an unfinished replay, and the CLI exits 1.

Only dead letters proven to come from the event topic run (``ops.provenance``): the others
are counted as ``refused``, described in ``refused`` when a list is given, left in the
dead-letter topic unmarked, and make the CLI exit 3.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter

from consumer_runtime.message import Message, Outcome
from consumer_runtime.registry import Registration
from consumer_runtime.runtime import Extras
from consumers.bootstrap import bootstrap
from consumers.handlers import REGISTRY
from consumers.settings import ConsumerSettings
from contract.topics import dlq_topic
from ops.kafka_io import admin, consumer, partitions
from ops.provenance import Reader, Refusal, check


def replay(
    settings: ConsumerSettings,
    group: str,
    *,
    ids: set[str] | None = None,
    registration: Registration | None = None,
    timeout: float = 60,
    refused: list[Refusal] | None = None,
) -> Counter[str]:
    registration = registration or REGISTRY[group]
    topic = dlq_topic(group, settings.dlq_prefix)
    kafka_group = f"{group}.replay" if ids is None else f"{group}.replay-{uuid.uuid4().hex[:8]}"
    access = settings.kafka_for(group)  # the group's own principal: it may read its DLQ
    with admin(access) as a:
        done = a.list_group_offsets(kafka_group).get(kafka_group, {}) if ids is None else {}
    with consumer(access) as c:
        parts = partitions(c, topic)
        begin, end = c.beginning_offsets(parts), c.end_offsets(parts)
        start = {tp: max(begin[tp], done[tp].offset if tp in done else 0) for tp in parts}
        todo = sum(end[tp] - start[tp] for tp in parts)
        if todo <= 0:
            return Counter()
        ranges = {tp.partition: (start[tp], end[tp]) for tp in parts}
        proven, refusals = check(Reader(c), topic, settings.topic, ranges, ids)
    if refused is not None:
        refused.extend(refusals)

    def select(m: Message) -> bool:
        """Only the letters proven to come from the event topic (of those ids, if given)."""
        return (m.partition, m.offset) in proven

    stats: Counter[str] = Counter(todo=todo, refused=len(refusals))
    running = bootstrap(
        settings.model_copy(update={"topic": topic}),
        registration,
        extras=Extras(select=select),
        kafka_group=kafka_group,
        revive_dead_letters=True,
    )
    deadline = time.monotonic() + timeout
    processor = running.processor
    try:
        processor.run(
            until=lambda p: time.monotonic() > deadline or Outcome.settled(p.stats) >= todo
        )
    finally:
        running.close()
    stats.update({k: v for k, v in processor.stats.items() if k in OUTCOMES})
    return stats


OUTCOMES = tuple(o.value for o in Outcome)


def finished(stats: Counter[str]) -> bool:
    """Every dead letter that was there when the replay started got an outcome."""
    return Outcome.settled(stats) >= stats["todo"]
