"""Apply the consumers' Alembic migrations to schema ``consumers``, as the role that owns it.

Migrations need the database and the owner's login, nothing else: neither the groups' Kafka
secret nor their database secret, which a migration job (compose's ``migrate``) is therefore
never given; and no running group holds the owner's password.
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
    """What ``python -m consumers migrate`` reads: the owner of schema ``consumers``, whose
    migrations make its tables and grant each group its own."""

    consumer_db_user: str = "consumer"
    consumer_db_password: SecretStr

    def database_url(self) -> URL:
        return self.url_for(self.consumer_db_user, self.consumer_db_password)


class HasDatabase(Protocol):
    """Settings that say how the schema's owner connects (``MigrationSettings``)."""

    def database_url(self) -> URL: ...


def upgrade(settings: HasDatabase, revision: str = "head") -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["url"] = settings.database_url()
    command.upgrade(config, revision)
