"""Apply the producer's Alembic migrations to its own schema, as its own role."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from producer_app.settings import ProducerSettings

MIGRATIONS = Path(__file__).parent / "migrations"


def _config(settings: ProducerSettings) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["url"] = settings.database_url()
    return config


def upgrade(settings: ProducerSettings, revision: str = "head") -> None:
    command.upgrade(_config(settings), revision)


def downgrade(settings: ProducerSettings, revision: str) -> None:
    """Roll the schema back to ``revision`` (a release rolled back with its migration)."""
    command.downgrade(_config(settings), revision)
