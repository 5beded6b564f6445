"""Apply the consumers' Alembic migrations to schema ``consumers``, as the consumer role.

Migrations need the database and the consumer role's login, nothing else: not the groups'
Kafka secret, which a migration job (compose's ``migrate``) is therefore never given.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from alembic import command
from alembic.config import Config
from pydantic import SecretStr
from sqlalchemy.engine import URL

from contract.database import PostgresSettings

MIGRATIONS = Path(__file__).parent / "migrations"


class MigrationSettings(PostgresSettings):
    """What ``python -m consumers migrate`` reads (names as ``ConsumerSettings``)."""

    consumer_db_user: str = "consumer"
    consumer_db_password: SecretStr

    def database_url(self) -> URL:
        return self.url_for(self.consumer_db_user, self.consumer_db_password)


class HasDatabase(Protocol):
    """Settings that say how the consumer role connects (``MigrationSettings``,
    ``ConsumerSettings``)."""

    def database_url(self) -> URL: ...


def upgrade(settings: HasDatabase, revision: str = "head") -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["url"] = settings.database_url()
    command.upgrade(config, revision)
