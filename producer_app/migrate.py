"""Apply the producer's Alembic migrations to its own schema, as its own role."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from producer_app.settings import ProducerSettings

MIGRATIONS = Path(__file__).parent / "migrations"


def upgrade(settings: ProducerSettings, revision: str = "head") -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["url"] = settings.database_url()
    command.upgrade(config, revision)
