"""Which dead letters a group has, by event id: what ``dlq-replay IDS=`` and ``dlq-skip`` check
their ids against before they change anything (an unknown id is an error, not a silent 0)."""

from __future__ import annotations

from collections.abc import Iterable

from contract import headers as h
from contract.cli import BadArgument
from contract.kafka import KafkaAccess
from contract.topics import dlq_topic
from ops.kafka_io import consumer
from ops.scan import messages_of


def dead_letter_ids(access: KafkaAccess, group: str) -> set[str]:
    """The event ids on ``dlq.<group>`` (its retained part), read to the end offsets as they
    were at the start. ``access``: a principal that may read the topic (the group's own)."""
    topic = dlq_topic(group)
    with consumer(access) as c:
        if topic not in c.topics():
            return set()
        return {m.header(h.EVENT_ID) or "" for m in messages_of(c, topic)} - {""}


def unknown(ids: Iterable[str], known: set[str], group: str) -> None:
    """Raise naming the ids that are no dead letter of ``group``; nothing was changed."""
    missing = sorted(set(ids) - known)
    if missing:
        more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        shown = ", ".join(missing[:3]) + more
        raise BadArgument(
            f"IDS: {shown} {'is' if len(missing) == 1 else 'are'} no dead letter of {group} "
            f"(dlq.{group} holds {len(known)}; make inspect TOPIC=dlq.{group} shows them)"
        )
