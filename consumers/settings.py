"""Typed settings of the consumers (names shared with compose and the native stack).

The running groups log in as one Postgres role per group, derived from ``CONSUMER_DB_SECRET``;
the migrations (``consumers.migrate.MigrationSettings``) run as the role that owns schema
``consumers``, with ``CONSUMER_DB_PASSWORD``, which no running group holds."""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr, model_validator

from consumer_runtime.options import RuntimeOptions
from contract.database import PostgresSettings, group_role, group_role_password
from contract.kafka import KafkaAccess, group_access
from contract.topics import DLQ_PREFIX


class ConsumerSettings(PostgresSettings):
    # Each group logs in to Postgres as its own role (``consumer-<group>``), its password
    # derived from this secret (contract.database): it may write its own tables and its own
    # rows of processed_events, nothing of another group's.
    consumer_db_secret: SecretStr

    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    # Each group logs in to Kafka as its own principal, its password derived from this one
    # secret (contract.kafka.group_password): its ACLs let it read the event topic and its own
    # group, and write only its own dead-letter topic.
    kafka_consumers_secret: SecretStr
    topic: str = "outbox.event.order"
    topic_partitions: int = 6  # as connectors/orders-outbox.json's topic.creation.default
    dlq_prefix: str = DLQ_PREFIX

    max_poll_records: int = 500
    # The broker answers a fetch once it holds fetch_min_bytes or fetch_max_wait_ms passed:
    # bigger batches (fewer transactions, fetches and offset commits per event) for at most
    # that much added latency when the topic is quiet.
    # Measured at 50 orders/s (make bench's CPU table): 1 B / 100 ms kept the three groups at
    # 0.74 cores and Kafka at 0.28; 16 KiB / 50 ms at 0.43 and 0.15, p99 commit->handled
    # 266 -> 212 ms; at 100/s p99 1.75 s -> 0.45 s, the machine being less saturated.
    fetch_min_bytes: int = 16_384
    fetch_max_wait_ms: int = 50
    # How long the group waits for a dead instance before handing its partitions on.
    session_timeout_ms: int = 10_000
    heartbeat_interval_ms: int = 3_000
    poll_timeout_ms: int = 200
    retry_attempts: int = 3
    retry_base_seconds: float = 0.05
    retry_max_seconds: float = 2.0
    # The handler's bound (``handler_bound`` in the runtime), enforced by Postgres per session:
    # statement_timeout and idle_in_transaction_session_timeout (see
    # consumer_runtime.adapters.postgres). The runtime's own waits inside an open transaction
    # (retry backoff, a dead-letter send) stay below it.
    handler_timeout_seconds: float = 10.0
    dlq_send_timeout_seconds: float = 5.0
    # A batch starts no new message after this long; the rest is fetched again.
    batch_budget_seconds: float = 30.0
    # Derived from the bounds above unless given (then it must not be shorter): the longest a
    # poll loop turn can take is the budget plus one message's every attempt.
    max_poll_interval_ms: int = 0
    # A handler with a batch form runs clean batches without the per-message chain
    # (consumer_runtime.clean) unless a layer must see every message (the processor logs and
    # reports which); false: every batch runs the chain (the outcomes are the same).
    clean_batches: bool = True
    outage_max_backoff_seconds: float = 5.0
    stats_interval_seconds: float = 10.0
    # /metrics, /health/live and /health/ready of every process python -m consumers runs
    # (consumers.observability.server); port 0: none (an extra instance next to make up's).
    consumer_metrics_host: str = "127.0.0.1"
    consumer_metrics_port: int = 9400
    # Dedup marks older than the topic's retention + segment span + this margin are purged
    # every dedup_purge_interval_seconds (consumer_runtime.retention); 0: never purge.
    dedup_margin_seconds: float = 86_400
    dedup_purge_interval_seconds: float = 3_600
    # An event written with a schema version newer than this process knows pauses its
    # partition until a consumer with that schema is deployed (consumer_runtime.newer_schemas),
    # for at most this long from the event's time; then it is dead-lettered (make dlq-replay
    # after the upgrade). The held partition is looked at again every recheck seconds.
    newer_schema_max_wait_seconds: float = 86_400
    newer_schema_recheck_seconds: float = 30.0
    # Fault injection (make chaos only): see consumers.cli.fault_hook and overrun_hook.
    fault_kill_file: Path | None = None
    fault_overrun_file: Path | None = None

    def slowest_turn_seconds(self) -> float:
        """The longest one batch may take: the budget, then one more message run through all
        its attempts (each up to the bound, a backoff and a dead-letter send)."""
        per_attempt = (
            self.handler_timeout_seconds + self.retry_max_seconds + self.dlq_send_timeout_seconds
        )
        return self.batch_budget_seconds + self.retry_attempts * per_attempt

    @model_validator(mode="after")
    def _bounds_agree(self) -> ConsumerSettings:
        inside = {
            "retry_max_seconds": self.retry_max_seconds,
            "dlq_send_timeout_seconds": self.dlq_send_timeout_seconds,
        }
        for name, value in inside.items():
            if value >= self.handler_timeout_seconds:
                raise ValueError(
                    f"{name} ({value}) must be below handler_timeout_seconds "
                    f"({self.handler_timeout_seconds}): it waits inside an open transaction, "
                    "which Postgres ends after that long idle"
                )
        floor = int((self.slowest_turn_seconds() + 30) * 1000)
        if self.max_poll_interval_ms == 0:
            self.max_poll_interval_ms = floor
        elif self.max_poll_interval_ms < floor:
            raise ValueError(
                f"max_poll_interval_ms ({self.max_poll_interval_ms}) is shorter than a batch "
                f"may take under the bounds ({floor} ms with a 30 s margin): Kafka would throw "
                "a healthy instance out of its group"
            )
        return self

    def runtime_options(self) -> RuntimeOptions:
        """The runtime's options, each under its one name (``handler_timeout_seconds`` is
        ``handler_bound`` from here on)."""
        return RuntimeOptions(
            attempts=self.retry_attempts,
            backoff_base=self.retry_base_seconds,
            backoff_cap=self.retry_max_seconds,
            handler_bound=self.handler_timeout_seconds,
            batch_budget=self.batch_budget_seconds,
            clean_batches=self.clean_batches,
            max_records=self.max_poll_records,
            poll_timeout_ms=self.poll_timeout_ms,
            outage_backoff_cap=self.outage_max_backoff_seconds,
            stats_interval=self.stats_interval_seconds,
            newer_schema_max_wait=self.newer_schema_max_wait_seconds,
            newer_schema_recheck=self.newer_schema_recheck_seconds,
        )

    def kafka_for(self, group: str) -> KafkaAccess:
        """The group's own Kafka principal (``consumer-<group>``)."""
        return group_access(self.kafka_bootstrap_servers, self.kafka_consumers_secret, group)

    def conninfo(self, group: str) -> str:
        """libpq conninfo of the group's own Postgres role (``consumer-<group>``)."""
        password = group_role_password(self.consumer_db_secret, group)
        return self.conninfo_for(group_role(group), password)
