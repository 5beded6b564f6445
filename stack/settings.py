"""Typed settings for the stack: ports, hosts and secrets, all from the environment.

The variable names are the ones ``compose.yaml`` uses, so a connector config or an app setting
means the same thing in both stacks. Passwords have no default on purpose: ``make up`` writes a
git-ignored ``.env`` with random ones (see ``stack.secrets``) and never commits them.
"""

from __future__ import annotations

from pydantic import SecretStr

from contract.database import PostgresSettings


class StackSettings(PostgresSettings):
    """Where each part listens and which credentials the bootstrap hands out."""

    postgres_user: str = "postgres"
    postgres_password: SecretStr

    app_db_user: str = "app"
    app_db_password: SecretStr
    consumer_db_user: str = "consumer"
    consumer_db_password: SecretStr
    debezium_db_user: str = "debezium"
    debezium_db_password: SecretStr

    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_controller_port: int = 9093
    connect_url: str = "http://127.0.0.1:8083"
    api_port: int = 8000

    kafka_heap: str = "1g"
    connect_heap: str = "1g"

    @property
    def kafka_port(self) -> int:
        return int(self.kafka_bootstrap_servers.rsplit(":", 1)[1])

    @property
    def connect_port(self) -> int:
        return int(self.connect_url.rsplit(":", 1)[1].rstrip("/"))

    def admin_dsn(self, dbname: str | None = None) -> str:
        """libpq conninfo for the superuser; only the bootstrap and tests use it."""
        return self.conninfo_for(self.postgres_user, self.postgres_password, dbname)
