"""Alembic environment for the consumers' schema ``consumers`` (run as the consumer role)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

engine = create_engine(context.config.attributes["url"])
with engine.connect() as connection:
    context.configure(connection=connection, version_table_schema="consumers")
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
