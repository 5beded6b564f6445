"""Typed settings of the producer app, read from the environment (names shared with compose)."""

from __future__ import annotations

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import URL


class ProducerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    postgres_host: str = "127.0.0.1"
    postgres_port: int = 5432
    postgres_db: str = "shop"
    app_db_user: str = "app"
    app_db_password: SecretStr

    api_host: str = "127.0.0.1"
    api_port: int = 8000
    db_pool_size: int = 10
    # How long a stored Idempotency-Key answer is replayed before the key may be reused.
    idempotency_ttl_hours: int = 24

    def conninfo(self) -> str:
        """libpq conninfo of the app role (plain psycopg, without SQLAlchemy)."""
        return (
            f"host={self.postgres_host} port={self.postgres_port} dbname={self.postgres_db} "
            f"user={self.app_db_user} password={self.app_db_password.get_secret_value()}"
        )

    def database_url(self) -> URL:
        return URL.create(
            "postgresql+psycopg",
            username=self.app_db_user,
            password=self.app_db_password.get_secret_value(),
            host=self.postgres_host,
            port=self.postgres_port,
            database=self.postgres_db,
        )
