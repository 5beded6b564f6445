"""``rebuild``: empty one group's read model and run the group again from the earliest event
Kafka still holds, so a projection whose code changed (or whose rows drifted) is rebuilt
from the log, the way an event-sourced projection is.

Refuses, changing nothing, when:

- the handler declares no ``reset`` (its effects leave the database: notifications sent);
- the group has members (someone runs it, here or elsewhere: resetting under them would
  race their commits; Kafka itself refuses to reset a group with members);
- Kafka no longer holds the start of a partition (its log start offset is past 0): the
  tables were built from events that are gone, and emptying them would lose those for good.
  ``force`` goes ahead anyway (after ``make republish`` has put the history back, say).

The tables are emptied and the marks deleted in one transaction that commits only after
Kafka accepted the new offsets: a failure before leaves everything as it was; a failure of
the commit itself leaves the offsets at the start and the marks in place, so the group reads
everything again as duplicates and a second ``rebuild`` finishes the job. Nothing is lost.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

import psycopg
from kafka import KafkaConsumer, TopicPartition
from kafka.admin import OffsetSpec, OffsetTimestamp
from kafka.errors import KafkaError

from consumer_runtime.registry import Registration
from consumers.settings import ConsumerSettings
from contract.kafka import KafkaAccess
from contract.kafka_reads import group_members
from ops.errors import Unreachable
from ops.kafka_io import BOOTSTRAP_TIMEOUT_MS, admin, consumer, partitions

# An operator's answer, not a consumer's wait: give up on an unreachable broker soon.
QUICK = {"request_timeout_ms": 5000, "bootstrap_timeout_ms": BOOTSTRAP_TIMEOUT_MS}


class Refused(Exception):
    """The rebuild would be unsafe; nothing was changed. The message says why and what to do."""


@dataclass(frozen=True)
class Done:
    group: str
    partitions: int
    events: int  # what the group will read again: end - its new offset, over partitions
    rows_deleted: dict[str, int] = field(default_factory=dict)


def refusal(
    registration: Registration,
    members: list[str],
    dropped: Mapping[int, int],
    *,
    force: bool,
) -> str | None:
    """Why this rebuild must not run, or None. Pure, so each rule is unit-tested.
    ``dropped``: per partition whose needed history Kafka no longer holds in full, its log
    start offset (see ``_dropped``)."""
    group = registration.name
    if not registration.reset:
        return (
            f"{group} declares no reset (its effects leave the database, e.g. messages "
            "sent): a rebuild would repeat them"
        )
    if members:
        return (
            f"{group} has {len(members)} live member(s) ({', '.join(sorted(members))}); "
            "stop them first (make rebuild stops this stack's own consumers)"
        )
    gone = {p: start for p, start in sorted(dropped.items()) if start > 0}
    if gone and not force:
        lost = ", ".join(f"partition {p} before offset {s}" for p, s in gone.items())
        return (
            f"Kafka no longer holds the start of the history {group} was built from ({lost}); "
            "emptying its tables would lose those events for good. Re-publish them first "
            "(make republish) or accept the loss with FORCE=1"
        )
    return None


def precheck(
    settings: ConsumerSettings,
    registration: Registration,
    *,
    force: bool,
    since: datetime | None,
    ours: Callable[[str], bool],
) -> str | None:
    """The refusals, checked before anything is stopped, so a refused rebuild changes
    nothing: ``refusal`` with the members ``ours`` does not claim (``rebuild`` checks again,
    with none, once this stack's own are stopped)."""
    if not registration.reset:
        return refusal(registration, [], {}, force=force)
    if since is not None and since > datetime.now(UTC):
        return (
            f"SINCE={since.isoformat()} is in the future: the tables would be emptied for nothing"
        )
    with consumer(settings.kafka_for(registration.name)) as c:
        tps = partitions(c, settings.topic)
        dropped = _dropped(c, c.beginning_offsets(tps), since)
    foreign = [m for m in members_of(settings, registration.name) if not ours(m)]
    return refusal(registration, foreign, dropped, force=force)


def members_of(settings: ConsumerSettings, group: str) -> list[str]:
    """The group's live members as ``client_id@host`` (empty when nobody runs it)."""
    access = settings.kafka_for(group)
    try:
        members = group_members(access, group, **QUICK)
    except KafkaError as exc:
        raise Unreachable("Kafka", access.bootstrap_servers, repr(exc)) from exc
    return [str(m) for m in members]


def rebuild(
    settings: ConsumerSettings,
    registration: Registration,
    *,
    force: bool = False,
    since: datetime | None = None,
) -> Done:
    """``since``: start at the first event written at or after it instead of the earliest."""
    group = registration.name
    access = settings.kafka_for(group)  # the group's own principal may reset its offsets
    with consumer(access) as c:
        tps = partitions(c, settings.topic)
        start, end = c.beginning_offsets(tps), c.end_offsets(tps)
        dropped = _dropped(c, start, since)
    why = refusal(registration, members_of(settings, group), dropped, force=force)
    if why is not None:
        raise Refused(why)
    deleted: dict[str, int] = {}
    with psycopg.connect(settings.conninfo(group)) as conn, conn.transaction():
        for statement in registration.reset:
            deleted[statement] = conn.execute(statement).rowcount
        deleted["processed_events"] = conn.execute(
            "DELETE FROM consumers.processed_events WHERE consumer_group = %s", (group,)
        ).rowcount
        # Before the commit: see the module docstring.
        at = _reset_offsets(access, group, tps, since)
    return Done(group, len(tps), sum(end[tp] - at[tp] for tp in tps), deleted)


def _dropped(
    c: KafkaConsumer, start: dict[TopicPartition, int], since: datetime | None
) -> dict[int, int]:
    """Partitions whose needed history may be gone, with their log start offset. From the
    earliest: any that starts past 0. From ``since``: any whose first event at or after it
    is the first Kafka still holds, past 0 (the ones before it, deleted, may have been
    written after ``since`` too: a re-publish slower than the retention)."""
    if since is None:
        return {tp.partition: o for tp, o in start.items() if o > 0}
    ms = int(since.timestamp() * 1000)
    found = c.offsets_for_times(dict.fromkeys(start, ms))
    return {
        tp.partition: o
        for tp, o in start.items()
        if o > 0 and found.get(tp) is not None and found[tp].offset == o
    }


def _reset_offsets(
    access: KafkaAccess, group: str, tps: list[TopicPartition], since: datetime | None
) -> dict[TopicPartition, int]:
    """The group's new offsets, per partition (Kafka resolves a time to the first offset
    written at or after it, the end when there is none)."""
    to: OffsetSpec | OffsetTimestamp = (
        OffsetSpec.EARLIEST if since is None else OffsetTimestamp(int(since.timestamp() * 1000))
    )
    with admin(access) as a:
        answer = a.reset_group_offsets(group, dict.fromkeys(tps, to))
    failed = {tp.partition: r["error"] for tp, r in answer.items() if r["error"].errno != 0}
    if failed or len(answer) != len(tps):
        raise Refused(
            f"Kafka refused to reset {group}'s offsets ({failed or 'partitions missing'}); "
            "nothing was changed (did a member join meanwhile?)"
        )
    return {tp: r["offset"] for tp, r in answer.items()}
