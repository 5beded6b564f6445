"""Apply the consumers' Alembic migrations to schema ``consumers``, as the consumer role."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from consumers.settings import ConsumerSettings

MIGRATIONS = Path(__file__).parent / "migrations"


def upgrade(settings: ConsumerSettings, revision: str = "head") -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["url"] = settings.database_url()
    command.upgrade(config, revision)
