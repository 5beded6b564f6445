"""Database bootstrap: roles with least privilege, schemas, and the CDC publication.

Order matters and is idempotent, so ``up`` can run it every time:

1. ``bootstrap_roles`` (superuser): one login role per deployable, one for Debezium and one
   for the metrics exporter (``monitor``: ``pg_monitor``'s statistics, no table), each
   with its password from the environment; the ``shop`` database; schema ``orders`` owned by the
   app, schema ``consumers`` owned by the consumers. Nobody else may create objects.
2. each deployable migrates its own schema as its own role (``python -m producer_app migrate``).
3. ``grant_cdc`` (superuser): Debezium may read the outbox and write its heartbeat row, nothing
   else; the publication lists exactly those two tables, so WAL decoding never ships order rows.
   The publication is created here, not by Debezium (``publication.autocreate.mode=disabled``),
   because creating it would require owning the tables.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from stack.settings import StackSettings

PUBLICATION = "outbox_publication"
CDC_TABLES = ("orders.outbox", "orders.debezium_heartbeat")


def _ensure_role(
    cur: psycopg.Cursor[tuple[object, ...]], name: str, password: str, *, replication: bool
) -> None:
    cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,))
    verb = "ALTER" if cur.fetchone() else "CREATE"
    repl = sql.SQL("REPLICATION") if replication else sql.SQL("NOREPLICATION")
    cur.execute(
        sql.SQL("{} ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE {} PASSWORD {}").format(
            sql.SQL(verb), sql.Identifier(name), repl, sql.Literal(password)
        )
    )


def bootstrap_roles(settings: StackSettings) -> None:
    app, consumer, dbz = (
        settings.app_db_user,
        settings.consumer_db_user,
        settings.debezium_db_user,
    )
    with psycopg.connect(settings.admin_dsn("postgres"), autocommit=True) as conn:
        cur = conn.cursor()
        _ensure_role(
            cur, app, settings.need("app_db_password").get_secret_value(), replication=False
        )
        _ensure_role(
            cur,
            consumer,
            settings.need("consumer_db_password").get_secret_value(),
            replication=False,
        )
        _ensure_role(
            cur, dbz, settings.need("debezium_db_password").get_secret_value(), replication=True
        )
        monitor = settings.monitor_db_user
        _ensure_role(
            cur, monitor, settings.need("monitor_db_password").get_secret_value(), replication=False
        )
        # Replication slots' positions and the WAL position: statistics, not data.
        cur.execute(sql.SQL("GRANT pg_monitor TO {}").format(sql.Identifier(monitor)))
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (settings.postgres_db,))
        if cur.fetchone() is None:
            cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(settings.postgres_db)))
    with psycopg.connect(settings.admin_dsn(), autocommit=True) as conn:
        db = sql.Identifier(settings.postgres_db)
        for stmt in (
            sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(db),
            sql.SQL("REVOKE ALL ON SCHEMA public FROM PUBLIC"),
            sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
                db,
                sql.SQL(", ").join(
                    sql.Identifier(r) for r in (app, consumer, dbz, settings.monitor_db_user)
                ),
            ),
            sql.SQL("CREATE SCHEMA IF NOT EXISTS orders AUTHORIZATION {}").format(
                sql.Identifier(app)
            ),
            sql.SQL("CREATE SCHEMA IF NOT EXISTS consumers AUTHORIZATION {}").format(
                sql.Identifier(consumer)
            ),
            # Readable by the admin only (schema public is closed to the app roles).
            sql.SQL("CREATE EXTENSION IF NOT EXISTS pg_stat_statements"),
        ):
            conn.execute(stmt)


def grant_cdc(settings: StackSettings) -> bool:
    """Grant Debezium its two tables and create the publication; True if it was created now."""
    dbz = sql.Identifier(settings.debezium_db_user)
    with psycopg.connect(settings.admin_dsn(), autocommit=True) as conn:
        conn.execute(sql.SQL("GRANT USAGE ON SCHEMA orders TO {}").format(dbz))
        conn.execute(sql.SQL("GRANT SELECT ON orders.outbox TO {}").format(dbz))
        conn.execute(
            sql.SQL("GRANT SELECT, INSERT, UPDATE ON orders.debezium_heartbeat TO {}").format(dbz)
        )
        exists = conn.execute(
            "SELECT 1 FROM pg_publication WHERE pubname = %s", (PUBLICATION,)
        ).fetchone()
        if exists:
            return False
        tables = sql.SQL(", ").join(sql.Identifier(*name.split(".")) for name in CDC_TABLES)
        conn.execute(
            sql.SQL("CREATE PUBLICATION {} FOR TABLE {}").format(
                sql.Identifier(PUBLICATION), tables
            )
        )
        return True
