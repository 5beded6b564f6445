"""Alembic environment for the producer's schema ``orders`` (run as the app role).

The URL comes from ``ProducerSettings`` through ``config.attributes``; nothing is read from a
committed ini file, so no credential lives in the repository.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

url = context.config.attributes["url"]
engine = create_engine(url)
with engine.connect() as connection:
    context.configure(connection=connection, version_table_schema="orders")
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
