"""Wires one handler's EventProcessor: Kafka consumer and dead-letter producer, Postgres
transactions, codec and middleware chain. Called from ``__main__`` and tests; nothing connects
at import time."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError
from opentelemetry.trace import Tracer

from consumers.runtime.bound import Overruns
from consumers.runtime.chain import build_chain, clean_batch
from consumers.runtime.condition import Condition
from consumers.runtime.dead_letters import KafkaDeadLetterSink
from consumers.runtime.membership import Rejoin
from consumers.runtime.message import Message, Middleware
from consumers.runtime.newer_schemas import NewerSchemaGate
from consumers.runtime.postgres import PostgresTransactions
from consumers.runtime.processor import EventProcessor
from consumers.runtime.registry import Registration
from consumers.runtime.telemetry import Telemetry
from consumers.settings import ConsumerSettings
from contract import AvroCodec, SchemaRepository
from contract.kafka import KafkaAccess
from contract.topics import dlq_topic


def ensure_topic(access: KafkaAccess, name: str, partitions: int = 1) -> None:
    admin = KafkaAdminClient(**access.client(client_id="consumers-admin"))
    try:
        admin.create_topics([NewTopic(name, partitions, 1)])
    except TopicAlreadyExistsError:
        pass
    finally:
        admin.close()


def group_members(access: KafkaAccess, group: str) -> list[str]:
    """Client ids of the group's members, as the group coordinator sees them."""
    admin = KafkaAdminClient(**access.client(client_id="consumers-admin"))
    try:
        return [m["client_id"] for m in admin.describe_groups([group])[group]["members"]]
    finally:
        admin.close()


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


def _ensure_dead_letter_topic(settings: ConsumerSettings, name: str) -> None:
    """The group's own dead-letter topic; the only topic its principal may create. (The event
    topic is Connect's, made by ``make up``; until it exists the processor waits for it.)"""
    access = settings.kafka_for(name)
    until_reachable(lambda: ensure_topic(access, dlq_topic(name, settings.dlq_prefix)), "kafka")


def dead_letter_producer(settings: ConsumerSettings, name: str) -> KafkaProducer:
    return KafkaProducer(
        **settings.kafka_for(name).client(),
        acks="all",
        retries=5,
        client_id=f"{name}-dlq",
        # A send waits inside the batch's open transaction: never past the sink's timeout.
        max_block_ms=int(settings.dlq_send_timeout_seconds * 1000),
    )


def client_id(group: str) -> str:
    """Unique per process: the watchdog looks for it among the group's members."""
    return f"{group}-{os.getpid()}"


def kafka_consumer(settings: ConsumerSettings, name: str, group: str) -> KafkaConsumer:
    """``name``: the handler's (its principal); ``group``: the Kafka group id, the handler's
    name too except in a dead-letter replay (``<name>.replay``)."""
    return KafkaConsumer(
        **settings.kafka_for(name).client(),
        group_id=group,  # the handler's name: see consumers.runtime.registry
        client_id=client_id(group),
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=settings.max_poll_records,
        fetch_min_bytes=settings.fetch_min_bytes,
        fetch_max_wait_ms=settings.fetch_max_wait_ms,
        session_timeout_ms=settings.session_timeout_ms,
        heartbeat_interval_ms=settings.heartbeat_interval_ms,
        max_poll_interval_ms=settings.max_poll_interval_ms,
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
    duplicate: bool = False,
    schemas: SchemaRepository | None = None,
    on_db_committed: Callable[[], None] | None = None,
    consumer: Any = None,
    kafka_group: str | None = None,
    select: Callable[[Message], bool] | None = None,
    revive_dead_letters: bool = False,
    middleware: Sequence[Middleware] = (),
    telemetry: Telemetry | None = None,
    tracer: Tracer | None = None,
) -> Running:
    """``kafka_group`` overrides the Kafka group id (a dead-letter replay tracks its progress
    apart from the live group); idempotency stays keyed by the handler's name. ``select``
    lets only some messages through (the others are counted as ignored).
    ``revive_dead_letters`` (a replay) may run events whose only mark is a dead letter.
    ``middleware``: the processor's own, around every handler call (see
    ``consumers.runtime.middleware`` for where it sits among the guarantees).
    ``telemetry``: where the processor reports (Prometheus in ``python -m consumers``);
    ``tracer``: where each message's span goes (``consumers.runtime.tracing``)."""
    codec = AvroCodec(schemas or SchemaRepository.load())
    group = kafka_group or registration.name
    _ensure_dead_letter_topic(settings, registration.name)
    producer = until_reachable(lambda: dead_letter_producer(settings, registration.name), "kafka")
    bound_ms = int(settings.handler_timeout_seconds * 1000)
    transactions = PostgresTransactions(
        settings.conninfo(registration.name), bound_ms, revive_dead_letters=revive_dead_letters
    )
    overruns = Overruns(settings.retry_attempts)
    chain = build_chain(
        registration,
        codec,
        KafkaDeadLetterSink(
            producer, settings.dlq_prefix, timeout=settings.dlq_send_timeout_seconds
        ),
        attempts=settings.retry_attempts,
        base=settings.retry_base_seconds,
        cap=settings.retry_max_seconds,
        timeout_s=settings.handler_timeout_seconds,
        duplicate=duplicate,
        select=select,
        middleware=middleware,
        tracer=tracer,
        overruns=overruns,
    )
    clean = clean_batch(
        registration,
        codec,
        overruns,
        duplicate=duplicate,
        select=select,
        middleware=middleware,
        tracer=tracer,
    )
    processor = EventProcessor(
        registration,
        consumer=consumer
        or until_reachable(lambda: kafka_consumer(settings, registration.name, group), "kafka"),
        topic=settings.topic,
        transactions=transactions,
        chain=chain,
        max_records=settings.max_poll_records,
        poll_timeout_ms=settings.poll_timeout_ms,
        outage_max_backoff=settings.outage_max_backoff_seconds,
        stats_interval=settings.stats_interval_seconds,
        on_db_committed=on_db_committed,
        batch_budget=settings.batch_budget_seconds,
        handler_bound=settings.handler_timeout_seconds,
        rejoin=None if consumer is not None else watchdog(settings, registration.name, group),
        telemetry=telemetry,
        gate=NewerSchemaGate(
            codec.repository,
            registration.name,
            max_wait=settings.newer_schema_max_wait_seconds,
            recheck=settings.newer_schema_recheck_seconds,
            clock=time.monotonic,
            wall_clock=time.time,
        ),
        clean=clean if settings.clean_batches else None,
    )
    return Running(processor, transactions, producer)


def watchdog(settings: ConsumerSettings, name: str, group: str) -> Rejoin:
    """How an instance checks it is still in its group, and rejoins with a fresh client."""
    return Rejoin(
        client_id=client_id(group),
        members=lambda: group_members(settings.kafka_for(name), group),
        new_consumer=lambda: kafka_consumer(settings, name, group),
    )
