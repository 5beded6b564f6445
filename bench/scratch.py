"""Scratch databases for benchmarks, migrated with the deployables' own migrations, so a
benchmark never touches the real orders or read models."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import psycopg
from psycopg import sql

from consumers.migrate import MigrationSettings
from consumers.migrate import upgrade as consumers_upgrade
from consumers.settings import ConsumerSettings
from contract.kafka import KafkaAccess
from producer_app.migrate import upgrade as producer_upgrade
from producer_app.settings import ProducerSettings
from stack import dbinit, kafka_auth
from stack.settings import StackSettings


@contextmanager
def scratch_database(
    stack: StackSettings, name: str, owner: str, schema: str, migrate: Callable[[str], None]
) -> Iterator[str]:
    """Create database ``name`` with ``schema`` owned by ``owner``, run ``migrate(name)``,
    yield the name, drop it afterwards."""
    drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
    with psycopg.connect(stack.admin_dsn("postgres"), autocommit=True) as conn:
        conn.execute(drop)
        conn.execute(
            sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(name), sql.Identifier(owner)
            )
        )
    with psycopg.connect(stack.admin_dsn(name), autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE SCHEMA {} AUTHORIZATION {}").format(
                sql.Identifier(schema), sql.Identifier(owner)
            )
        )
    migrate(name)
    try:
        yield name
    finally:
        with psycopg.connect(stack.admin_dsn("postgres"), autocommit=True) as conn:
            conn.execute(drop)


@contextmanager
def scratch_consumer_db(
    stack: StackSettings, consumer: ConsumerSettings, name: str = "shop_bench_consumers"
) -> Iterator[ConsumerSettings]:
    def migrate(db: str) -> None:
        consumers_upgrade(MigrationSettings(postgres_db=db))

    with scratch_database(stack, name, stack.consumer_db_user, "consumers", migrate) as db:
        yield consumer.model_copy(update={"postgres_db": db})


@contextmanager
def scratch_producer_db(
    stack: StackSettings, producer: ProducerSettings, name: str = "shop_bench_orders"
) -> Iterator[ProducerSettings]:
    def migrate(db: str) -> None:
        producer_upgrade(producer.model_copy(update={"postgres_db": db}))

    with scratch_database(stack, name, stack.app_db_user, "orders", migrate) as db:
        yield producer.model_copy(update={"postgres_db": db})


@contextmanager
def throwaway_group(
    stack: StackSettings, scratch: ConsumerSettings, tools: KafkaAccess, group: str, like: str
) -> Iterator[str]:
    """A measurement's own consumer group running ``like``'s handler: its Kafka principal and
    ACLs, and its Postgres role in the scratch database (``like``'s tables, its own marks),
    as any group gets them; the role is dropped afterwards."""
    access = scratch.kafka_for(group)
    kafka_auth.grant_group(tools, access, group, scratch.topic, scratch.dlq_prefix)
    dbinit.add_group_role(stack, group, like, dbname=scratch.postgres_db)
    try:
        yield group
    finally:
        dbinit.drop_group_role(stack, group, [scratch.postgres_db])
