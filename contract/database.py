"""Where the one database is, shared by the producer, the consumers, their migrations and
the stack: host, port, name and how a role's connection string is made. Each deployable adds
only its own role and password (least privilege); none imports another to learn these."""

from __future__ import annotations

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import URL


class PostgresSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    postgres_host: str = "127.0.0.1"
    postgres_port: int = 5432
    postgres_db: str = "shop"

    def conninfo_for(self, user: str, password: SecretStr, dbname: str | None = None) -> str:
        """libpq conninfo (plain psycopg)."""
        return (
            f"host={self.postgres_host} port={self.postgres_port} "
            f"dbname={dbname or self.postgres_db} user={user} "
            f"password={password.get_secret_value()}"
        )

    def url_for(self, user: str, password: SecretStr) -> URL:
        """SQLAlchemy URL (the producer's engine, both deployables' Alembic migrations)."""
        return URL.create(
            "postgresql+psycopg",
            username=user,
            password=password.get_secret_value(),
            host=self.postgres_host,
            port=self.postgres_port,
            database=self.postgres_db,
        )
