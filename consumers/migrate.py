"""Apply the consumers' Alembic migrations to schema ``consumers``, as the consumer role."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import URL

from consumers.settings import ConsumerSettings

MIGRATIONS = Path(__file__).parent / "migrations"


def upgrade(settings: ConsumerSettings, revision: str = "head") -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["url"] = URL.create(
        "postgresql+psycopg",
        username=settings.consumer_db_user,
        password=settings.consumer_db_password.get_secret_value(),
        host=settings.postgres_host,
        port=settings.postgres_port,
        database=settings.postgres_db,
    )
    command.upgrade(config, revision)
