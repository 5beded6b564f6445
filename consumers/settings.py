"""Typed settings of the consumers (names shared with compose and the native stack)."""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class ConsumerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    postgres_host: str = "127.0.0.1"
    postgres_port: int = 5432
    postgres_db: str = "shop"
    consumer_db_user: str = "consumer"
    consumer_db_password: SecretStr

    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    topic: str = "outbox.event.order"
    topic_partitions: int = 6  # as connectors/orders-outbox.json's topic.creation.default
    dlq_prefix: str = "dlq."

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
    handler_timeout_seconds: float = 10.0
    outage_max_backoff_seconds: float = 5.0
    stats_interval_seconds: float = 10.0
    # Fault injection (make chaos only): see consumers.cli.fault_hook.
    fault_kill_file: Path | None = None

    def conninfo(self) -> str:
        return (
            f"host={self.postgres_host} port={self.postgres_port} dbname={self.postgres_db} "
            f"user={self.consumer_db_user} "
            f"password={self.consumer_db_password.get_secret_value()}"
        )
