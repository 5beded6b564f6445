"""A scratch database for benchmarks: the consumers' schema, migrated as the consumer role,
in a database of its own, so replaying the topic never touches the real read models."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import sql

from consumers.migrate import upgrade
from consumers.settings import ConsumerSettings
from stack.settings import StackSettings


@contextmanager
def scratch_consumer_db(
    stack: StackSettings, consumer: ConsumerSettings, name: str = "shop_bench"
) -> Iterator[ConsumerSettings]:
    with psycopg.connect(stack.admin_dsn("postgres"), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(
            sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(name), sql.Identifier(stack.consumer_db_user)
            )
        )
    with psycopg.connect(stack.admin_dsn(name), autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE SCHEMA consumers AUTHORIZATION {}").format(
                sql.Identifier(stack.consumer_db_user)
            )
        )
    settings = consumer.model_copy(update={"postgres_db": name})
    upgrade(settings)
    try:
        yield settings
    finally:
        with psycopg.connect(stack.admin_dsn("postgres"), autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
