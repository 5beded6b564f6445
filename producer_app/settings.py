"""Typed settings of the producer app, read from the environment (names shared with compose)."""

from __future__ import annotations

from pydantic import SecretStr
from sqlalchemy.engine import URL

from contract.database import PostgresSettings


class ProducerSettings(PostgresSettings):
    app_db_user: str = "app"
    app_db_password: SecretStr
    # The key of the API keys' hash (producer_app.adapters.api_keys): the API and the verbs
    # that make or check keys need it; migrations and republish do not.
    api_key_pepper: SecretStr | None = None
    # A client's key, for the seed: the orders it places belong to that client.
    api_key: SecretStr | None = None

    api_host: str = "127.0.0.1"
    api_port: int = 8000
    db_pool_size: int = 10
    # How long a stored Idempotency-Key answer is replayed before the key may be reused.
    idempotency_ttl_hours: float = 24
    # The API purges expired keys this often (producer_app.entrypoints.janitor); 0: never.
    idempotency_purge_interval_seconds: float = 3_600

    def conninfo(self) -> str:
        """libpq conninfo of the app role (plain psycopg, without SQLAlchemy)."""
        return self.conninfo_for(self.app_db_user, self.app_db_password)

    def database_url(self) -> URL:
        return self.url_for(self.app_db_user, self.app_db_password)
