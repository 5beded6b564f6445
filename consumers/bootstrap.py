"""Plugs Kafka and Postgres into one group's runtime (``consumer_runtime.build_runtime``): the
group's Kafka consumer and dead-letter producer, its Postgres connection, the codec. Called
from ``__main__`` and tests; nothing connects at import time.

Where each connection of a group is made, each as the group's own role or principal:
``ConsumerSettings.conninfo`` (Postgres role ``consumer-<group>``: the batch transactions and
the dedup janitor), ``kafka_consumer`` and ``dead_letter_producer`` (Kafka:
``ConsumerSettings.kafka_for``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from consumer_runtime.adapters.dead_letters import KafkaDeadLetterSink
from consumer_runtime.adapters.postgres import PostgresTransactions
from consumer_runtime.condition import Condition
from consumer_runtime.membership import Rejoin
from consumer_runtime.ports import Plugs
from consumer_runtime.processor import EventProcessor
from consumer_runtime.registry import Registration
from consumer_runtime.runtime import Extras, build_runtime
from consumers.settings import ConsumerSettings
from contract import AvroCodec, SchemaRepository
from contract.kafka import KafkaAccess
from contract.kafka_reads import group_members
from contract.topics import dlq_topic

T = TypeVar("T")


def until_reachable(
    make: Callable[[], T],
    what: str,
    *,
    max_backoff: float = 5.0,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """``make()`` once Kafka answers, however long that takes: a consumer started during a
    broker outage waits for it (logging once) instead of exiting."""
    condition, backoff = Condition(), 0.5
    while True:
        try:
            made = make()
        except KafkaError as exc:
            condition.failing(what, repr(exc))
            sleep(backoff)
            backoff = min(max_backoff, backoff * 2)
            continue
        condition.ok()
        return made


def ensure_topic(access: KafkaAccess, name: str, partitions: int = 1) -> None:
    """``name`` with the brokers' default replication factor and min.insync.replicas (1 on one
    broker, 3 and 2 on three: a dead letter outlives a broker as an event does)."""
    admin = KafkaAdminClient(**access.client(client_id="consumers-admin"))
    try:
        admin.create_topics([NewTopic(name, partitions, -1)])
    except TopicAlreadyExistsError:
        pass
    finally:
        admin.close()


def dead_letter_producer(settings: ConsumerSettings, name: str) -> KafkaProducer:
    """The group's own dead-letter topic made first: the only topic its principal may create.
    (The event topic is Connect's, made by ``make up``; until it exists the processor waits.)"""
    access = settings.kafka_for(name)
    until_reachable(lambda: ensure_topic(access, dlq_topic(name, settings.dlq_prefix)), "kafka")
    return until_reachable(
        lambda: KafkaProducer(
            **access.client(),
            # Acknowledged once min.insync.replicas have it; a retry after a lost
            # acknowledgement is not written twice (idempotence, set explicitly: kafka-python
            # turns it off with a warning when another setting conflicts, and raises instead
            # when it is asked for).
            acks="all",
            enable_idempotence=True,
            retries=5,
            client_id=f"{name}-dlq",
            # A send waits inside the batch's open transaction: never past the sink's timeout.
            max_block_ms=int(settings.dlq_send_timeout_seconds * 1000),
        ),
        "kafka",
    )


def client_id(group: str) -> str:
    """Unique per process: the watchdog looks for it among the group's members."""
    return f"{group}-{os.getpid()}"


def kafka_consumer(settings: ConsumerSettings, name: str, group: str) -> KafkaConsumer:
    """``name``: the handler's (its principal); ``group``: the Kafka group id, the handler's
    name too except in a dead-letter replay (``<name>.replay``)."""
    return KafkaConsumer(
        **settings.kafka_for(name).client(),
        group_id=group,  # the handler's name: see consumer_runtime.registry
        client_id=client_id(group),
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=settings.max_poll_records,
        fetch_min_bytes=settings.fetch_min_bytes,
        fetch_max_wait_ms=settings.fetch_max_wait_ms,
        session_timeout_ms=settings.session_timeout_ms,
        heartbeat_interval_ms=settings.heartbeat_interval_ms,
        max_poll_interval_ms=settings.max_poll_interval_ms,
        # Only what a transaction committed (Connect's exactly-once source writes the events
        # and its offsets in one): the copies of a task that died mid-transaction are never
        # seen. Without transactions on the topic it reads the same as read_uncommitted.
        isolation_level="read_committed",
    )


def watchdog(settings: ConsumerSettings, name: str, group: str) -> Rejoin:
    """How an instance checks it is still in its group, and rejoins with a fresh client."""
    access = settings.kafka_for(name)
    return Rejoin(
        client_id=client_id(group),
        members=lambda: [m.client_id for m in group_members(access, group)],
        new_consumer=lambda: kafka_consumer(settings, name, group),
    )


@dataclass
class Running:
    processor: EventProcessor
    transactions: PostgresTransactions
    producer: KafkaProducer

    def close(self) -> None:
        try:
            self.processor.close()
        finally:
            self.transactions.close()
            self.producer.close(timeout=5)


def bootstrap(
    settings: ConsumerSettings,
    registration: Registration,
    *,
    extras: Extras | None = None,
    kafka_group: str | None = None,
    revive_dead_letters: bool = False,
    schemas: SchemaRepository | None = None,
) -> Running:
    """``extras``: what the caller adds to the runtime (middleware, a selection, the
    duplicator, telemetry, a tracer, a hook; ``consumer_runtime.runtime.Extras``).
    ``kafka_group`` overrides the Kafka group id (a dead-letter replay tracks its progress
    apart from the live group); idempotency stays keyed by the handler's name.
    ``revive_dead_letters`` (a replay) may run events whose only mark is a dead letter.
    ``schemas``: the schema files this process knows (the repository's by default)."""
    name, group = registration.name, kafka_group or registration.name
    options = settings.runtime_options()
    producer = dead_letter_producer(settings, name)
    transactions = PostgresTransactions(
        settings.conninfo(name),
        options.handler_bound,
        revive_dead_letters=revive_dead_letters,
    )
    timeout = settings.dlq_send_timeout_seconds
    sink = KafkaDeadLetterSink(producer, settings.dlq_prefix, timeout=timeout)
    runtime = build_runtime(
        registration,
        AvroCodec(schemas or SchemaRepository.load()),
        Plugs(transactions, sink),
        options,
        extras or Extras(),
    )
    consumer = until_reachable(lambda: kafka_consumer(settings, name, group), "kafka")
    processor = EventProcessor(
        runtime, consumer, topic=settings.topic, rejoin=watchdog(settings, name, group)
    )
    return Running(processor, transactions, producer)
