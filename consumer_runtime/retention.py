"""How long a group keeps its dedup marks (``processed_events``), and the purge that keeps
the table from growing for good.

A mark is needed while Kafka can still deliver its message again. Kafka deletes a partition's
log a **segment** at a time, once the newest record of the segment is older than
``retention.ms``; a segment is rolled after ``segment.ms``. So a record can outlive its
retention by up to one segment's span, and the last moment Kafka may still redeliver a message
is its timestamp + ``retention.ms`` + ``segment.ms``. A mark is written after its message was
produced (``processed_at`` >= the record's time), so purging marks older than
``retention.ms + segment.ms + margin`` never removes one whose message Kafka still holds. The
window is read from the topic's own config each time, so a retention changed on the broker is
followed; a topic kept forever (``retention.ms = -1``) keeps its marks forever.

The purge deletes in small batches, each its own short transaction (``SKIP LOCKED``: two
instances of a group purging at once share the work instead of waiting on each other).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import psycopg
from kafka import KafkaAdminClient
from kafka.admin import ConfigResource, ConfigResourceType
from kafka.errors import KafkaError

from contract.kafka import KafkaAccess

log = logging.getLogger("consumers.retention")

PURGE = """
    DELETE FROM consumers.processed_events WHERE ctid IN (
        SELECT ctid FROM consumers.processed_events
        WHERE consumer_group = %s AND processed_at < now() - make_interval(secs => %s)
        LIMIT %s FOR UPDATE SKIP LOCKED)
"""


@dataclass(frozen=True)
class Window:
    retention_ms: int
    segment_ms: int
    margin_s: float

    @property
    def seconds(self) -> float | None:
        """How old a mark may get before it is purged; None: keep every mark (the topic
        keeps every message)."""
        if self.retention_ms < 0:
            return None
        return (self.retention_ms + self.segment_ms) / 1000 + self.margin_s


def window_of(access: KafkaAccess, topic: str, margin_s: float) -> Window:
    """The topic's retention as the broker holds it now (its own or the broker default)."""
    admin = KafkaAdminClient(**access.client(client_id="consumers-retention"))
    try:
        configs = admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, topic, None)], config_filter="all"
        )["topic"][topic]
    finally:
        admin.close()

    def value(key: str) -> int:
        found = (configs.get(key) or {}).get("value")
        if found is None:
            raise KafkaError(f"{topic} has no {key} in its config")
        return int(found)

    return Window(value("retention.ms"), value("segment.ms"), margin_s)


def purge(conninfo: str, group: str, older_than_s: float, batch: int = 5_000) -> int:
    """Delete ``group``'s marks older than ``older_than_s``, ``batch`` rows per transaction;
    returns how many."""
    total = 0
    with psycopg.connect(conninfo, autocommit=True) as conn:
        while True:
            deleted = conn.execute(PURGE, (group, older_than_s, batch)).rowcount
            total += max(0, deleted)
            if deleted < batch:
                return total


class Janitor:
    """Purges one group's expired marks every ``interval`` seconds (a thread of the consumer
    process: ``python -m consumers`` starts it). An outage only postpones a purge."""

    def __init__(
        self,
        group: str,
        conninfo: str,
        window: Callable[[], Window],
        interval: float,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._group = group
        self._conninfo = conninfo
        self._window = window
        self._interval = interval
        self._sleep = sleep
        self.purged = 0

    def once(self) -> int:
        try:
            seconds = self._window().seconds
            if seconds is None:
                return 0
            n = purge(self._conninfo, self._group, seconds)
        except (KafkaError, psycopg.Error, OSError) as exc:
            log.warning("purge of %s's dedup marks postponed: %r", self._group, exc)
            return 0
        self.purged += n
        if n:
            log.info("purged %d dedup marks of %s older than %.0fs", n, self._group, seconds)
        return n

    def run_forever(self) -> None:
        while True:
            self.once()
            self._sleep(self._interval)
