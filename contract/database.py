"""Where the one database is, shared by the producer, the consumers, their migrations and
the stack: host, port, name and how a role's connection string is made. Each deployable adds
only its own role and password (least privilege); none imports another to learn these.

Every settings class of the project derives from ``PostgresSettings``, and so reads ``.env``
(or the ``_env_file=`` it is given; None: none) through ``contract.envfile``: only the lines
of its own fields, below the environment's variables."""

from __future__ import annotations

import hashlib
import hmac
import os
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)
from sqlalchemy.engine import URL

from contract.envfile import OwnFieldsDotEnv

# The file the settings being built read; set by __init__ for settings_customise_sources,
# which pydantic-settings calls as a class method.
_ENV_FILE: ContextVar[Path | None] = ContextVar("outbox_env_file", default=Path(".env"))


class PostgresSettings(BaseSettings):
    # No env_file here: pydantic-settings' own dotenv source would read every line of it.
    model_config = SettingsConfigDict(env_file=None, extra="ignore")

    def __init__(self, _env_file: str | os.PathLike[str] | None = ".env", **values: Any) -> None:
        token = _ENV_FILE.set(None if _env_file is None else Path(_env_file))
        try:
            super().__init__(**values)
        finally:
            _ENV_FILE.reset(token)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        own_lines = OwnFieldsDotEnv(settings_cls, _ENV_FILE.get())
        return (init_settings, env_settings, own_lines, file_secret_settings)

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


# Each consumer group logs in to Postgres as a role of its own, as it does to Kafka: the role's
# name is the group's, prefixed, and its password is derived from the consumers' one database
# secret, so adding a group adds a role without adding a variable. The stack derives the same
# to create the role; the consumers derive it to log in. The row-level policy on
# consumers.processed_events reads the group back from the role's name (consumers migration 0005).
GROUP_ROLE_PREFIX = "consumer-"


def group_role(group: str) -> str:
    return f"{GROUP_ROLE_PREFIX}{group}"


def group_role_password(secret: SecretStr, group: str) -> SecretStr:
    """A consumer group's Postgres password, derived from the consumers' database secret."""
    digest = hmac.new(secret.get_secret_value().encode(), group.encode(), hashlib.sha256)
    return SecretStr(digest.hexdigest())
