"""``python -m ops exporter``: what neither the consumers nor the JVMs can tell Prometheus,
read fresh on every scrape (127.0.0.1:9406 by default).

- Every replication slot: that it exists (with its plugin, database and whether it is
  temporary: a slot that is not the connector's is someone decoding the database, and an
  alert says so), active or not, WAL it retains (the disk Postgres cannot free until its
  reader confirms), WAL not yet confirmed. From ``pg_replication_slots`` as ``monitor``
  (``pg_monitor``: statistics, no table).
- Each group's lag **as the broker sees it**: end offset minus committed offset, per
  partition. The consumers report their own view too; this one is still there when every
  instance of a group is down, which is exactly when it matters.
- The end offsets of the event and dead-letter topics: how many events were ever published,
  and how many dead letters each group wrote.

The sources are read by a thread of their own every ``interval`` seconds, and a scrape serves
the last reading at once (with its age): a broker that answers slowly, say while it reloads
its group coordinators after a restart, makes the reading late, never the scrape. A source
that does not answer makes ``outbox_exporter_source_up{source}`` 0 and its series go missing
until it does; the exporter itself keeps answering (an alert on it must not depend on the
thing it watches).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.errors import KafkaError
from prometheus_client.core import GaugeMetricFamily, Metric
from pydantic import SecretStr

from contract.database import PostgresSettings
from contract.kafka import KafkaAccess
from contract.topics import DLQ_PREFIX
from ops.status import SLOT_QUERY

log = logging.getLogger("ops.exporter")
TIMEOUT_MS = 5000


class ExporterSettings(PostgresSettings):
    """What the exporter reads, and only that: the monitor role and principal. Started by
    hand, it reads no other line of ``.env`` (``contract.envfile``), so it never holds the
    superuser's password or another part's."""

    monitor_db_user: str = "monitor"
    monitor_db_password: SecretStr
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_monitor_password: SecretStr
    exporter_port: int = 9406

    def dsn(self) -> str:
        return self.conninfo_for(self.monitor_db_user, self.monitor_db_password)

    def kafka(self) -> KafkaAccess:
        return KafkaAccess(self.kafka_bootstrap_servers, "monitor", self.kafka_monitor_password)


def watched(topic: str) -> bool:
    return topic.startswith("outbox.event.") or topic.startswith(DLQ_PREFIX)


class _Kafka:
    """One admin client and one consumer, kept across scrapes; rebuilt after an error."""

    def __init__(self, access: KafkaAccess) -> None:
        self._access = access
        self._admin: KafkaAdminClient | None = None
        self._consumer: KafkaConsumer | None = None

    def clients(self) -> tuple[KafkaAdminClient, KafkaConsumer]:
        config = self._access.client(
            request_timeout_ms=TIMEOUT_MS, bootstrap_timeout_ms=TIMEOUT_MS, client_id="exporter"
        )
        if self._admin is None:
            self._admin = KafkaAdminClient(**config)
        if self._consumer is None:
            self._consumer = KafkaConsumer(**config, enable_auto_commit=False)
        return self._admin, self._consumer

    def reset(self) -> None:
        for client in (self._admin, self._consumer):
            if client is not None:
                try:
                    client.close()
                except Exception:  # closing a broken client: nothing to add
                    log.debug("closing a Kafka client failed", exc_info=True)
        self._admin = self._consumer = None


class OpsCollector:
    """A prometheus-client collector serving the last reading (``refresh``)."""

    def __init__(
        self, dsn: str, access: KafkaAccess, clock: Callable[[], float] = time.time
    ) -> None:
        self._dsn = dsn
        self._kafka = _Kafka(access)
        self._clock = clock
        self._reading: tuple[list[Metric], float] = ([], 0.0)

    def describe(self) -> list[Metric]:
        return []  # collected on demand: do not scrape at registration

    def refresh(self) -> None:
        """Read every source once; the new reading replaces the last in one assignment."""
        up = GaugeMetricFamily(
            "outbox_exporter_source_up",
            "1 when the source answered the last reading",
            labels=["source"],
        )
        families: list[Metric] = []
        for source, read in (("postgres", self._slots), ("kafka", self._offsets)):
            try:
                families += read()
            except (psycopg.Error, KafkaError, OSError) as exc:
                log.warning("%s did not answer: %r", source, exc)
                if source == "kafka":
                    self._kafka.reset()
                up.add_metric([source], 0)
                continue
            up.add_metric([source], 1)
        self._reading = ([*families, up], self._clock())

    def refresh_every(self, interval: float) -> None:
        while True:
            time.sleep(interval)
            self.refresh()

    def collect(self) -> Iterator[Metric]:
        families, at = self._reading
        yield from families
        age = GaugeMetricFamily(
            "outbox_exporter_reading_age_seconds", "Seconds since the sources were last read"
        )
        age.add_metric([], max(0.0, self._clock() - at))
        yield age

    def _slots(self) -> list[Metric]:
        info = GaugeMetricFamily(
            "outbox_replication_slot_info",
            "1 for every replication slot, whoever made it",
            labels=["slot", "slot_type", "plugin", "database", "temporary"],
        )
        active = GaugeMetricFamily(
            "outbox_replication_slot_active",
            "1 while a client streams from the slot",
            labels=["slot"],
        )
        retained = GaugeMetricFamily(
            "outbox_replication_slot_retained_wal_bytes",
            "WAL kept for the slot (current LSN minus restart_lsn)",
            labels=["slot"],
        )
        unconfirmed = GaugeMetricFamily(
            "outbox_replication_slot_unconfirmed_wal_bytes",
            "WAL written but not yet confirmed by the slot's client",
            labels=["slot"],
        )
        with psycopg.connect(self._dsn, connect_timeout=3) as conn:
            rows = conn.execute(SLOT_QUERY).fetchall()
        for name, plugin, is_active, _flush, _restart, kept, behind, db, temp, kind in rows:
            info.add_metric([name, kind, plugin or "", db, "true" if temp else "false"], 1)
            active.add_metric([name], 1 if is_active else 0)
            retained.add_metric([name], kept or 0)
            unconfirmed.add_metric([name], behind or 0)
        return [info, active, retained, unconfirmed]

    def _offsets(self) -> list[Metric]:
        admin, consumer = self._kafka.clients()
        topics = sorted(t for t in consumer.topics() if watched(t))
        partitions = [
            TopicPartition(t, p)
            for t in topics
            for p in sorted(consumer.partitions_for_topic(t) or ())
        ]
        ends: dict[TopicPartition, int] = consumer.end_offsets(partitions) if partitions else {}
        end = GaugeMetricFamily(
            "outbox_topic_end_offset",
            "Next offset of the partition: records ever appended to it",
            labels=["topic", "partition"],
        )
        for tp, offset in sorted(ends.items()):
            end.add_metric([tp.topic, str(tp.partition)], offset)
        lag = GaugeMetricFamily(
            "outbox_consumer_group_lag_messages",
            "End offset minus the group's committed offset, as the broker sees it",
            labels=["group", "topic", "partition"],
        )
        groups = sorted(
            g["group_id"] for g in admin.list_groups() if g.get("protocol_type") == "consumer"
        )
        for group in groups:
            committed: dict[TopicPartition, Any] = admin.list_group_offsets(group).get(group, {})
            for tp, meta in sorted(committed.items()):
                if tp in ends and meta is not None and meta.offset >= 0:
                    lag.add_metric(
                        [group, tp.topic, str(tp.partition)], max(0, ends[tp] - meta.offset)
                    )
        return [end, lag]


def serve(host: str, port: int, dsn: str, access: KafkaAccess, interval: float = 5.0) -> None:
    """Serve until killed (SIGTERM ends the process; there is no state to save). The first
    reading is taken before the port opens, so the first scrape has data."""
    from prometheus_client import CollectorRegistry, start_http_server

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("kafka").setLevel(logging.ERROR)
    registry = CollectorRegistry()
    collector = OpsCollector(dsn, access)
    collector.refresh()
    registry.register(collector)
    threading.Thread(target=collector.refresh_every, args=(interval,), daemon=True).start()
    start_http_server(port, addr=host, registry=registry)
    log.info("exporter on http://%s:%d/metrics", host, port)
    threading.Event().wait()
