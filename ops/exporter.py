"""``python -m ops exporter``: what neither the consumers nor the JVMs can tell Prometheus,
read fresh on every scrape (127.0.0.1:9406 by default).

- The replication slot: active or not, WAL it retains (the disk Postgres cannot free until
  Debezium confirms), WAL not yet confirmed. From ``pg_replication_slots`` as ``monitor``
  (``pg_monitor``: statistics, no table).
- Each group's lag **as the broker sees it**: end offset minus committed offset, per
  partition. The consumers report their own view too; this one is still there when every
  instance of a group is down, which is exactly when it matters.
- The end offsets of the event and dead-letter topics: how many events were ever published,
  and how many dead letters each group wrote.

A source that does not answer makes ``outbox_exporter_source_up{source}`` 0 and its series go
missing for that scrape; the exporter itself keeps answering (an alert on it must not depend
on the thing it watches).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from typing import Any

import psycopg
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.errors import KafkaError
from prometheus_client.core import GaugeMetricFamily, Metric

from contract.kafka import KafkaAccess
from contract.topics import DLQ_PREFIX
from ops.status import SLOT_QUERY

log = logging.getLogger("ops.exporter")
TIMEOUT_MS = 5000


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
    """A prometheus-client collector: ``collect()`` runs on every scrape, one at a time."""

    def __init__(self, dsn: str, access: KafkaAccess) -> None:
        self._dsn = dsn
        self._kafka = _Kafka(access)
        self._lock = threading.Lock()

    def describe(self) -> list[Metric]:
        return []  # collected on demand: do not scrape at registration

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            up = GaugeMetricFamily(
                "outbox_exporter_source_up",
                "1 when the source answered this scrape",
                labels=["source"],
            )
            for source, read in (("postgres", self._slots), ("kafka", self._offsets)):
                try:
                    families = read()
                except (psycopg.Error, KafkaError, OSError) as exc:
                    log.warning("%s did not answer: %r", source, exc)
                    if source == "kafka":
                        self._kafka.reset()
                    up.add_metric([source], 0)
                    continue
                up.add_metric([source], 1)
                yield from families
            yield up

    def _slots(self) -> list[Metric]:
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
        for name, _plugin, is_active, _flush, _restart, kept, behind in rows:
            active.add_metric([name], 1 if is_active else 0)
            retained.add_metric([name], kept or 0)
            unconfirmed.add_metric([name], behind or 0)
        return [active, retained, unconfirmed]

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


def serve(host: str, port: int, dsn: str, access: KafkaAccess) -> None:
    """Serve until killed (SIGTERM ends the process; there is no state to save)."""
    from prometheus_client import CollectorRegistry, start_http_server

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("kafka").setLevel(logging.ERROR)
    registry = CollectorRegistry()
    registry.register(OpsCollector(dsn, access))
    start_http_server(port, addr=host, registry=registry)
    log.info("exporter on http://%s:%d/metrics", host, port)
    threading.Event().wait()
