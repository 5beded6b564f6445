"""Database bootstrap: roles with least privilege, schemas, and the CDC publication.

Order matters and is idempotent, so ``up`` can run it every time:

1. ``bootstrap_roles`` (superuser): one login role per deployable, one per consumer group
   (``consumer-<group>``, its password derived from one secret like its Kafka principal's:
   ``contract.database``), one for Debezium and one for the metrics exporter (``monitor``:
   ``pg_monitor``'s statistics, no table), each with its password from the environment; the
   ``shop`` database; schema ``orders`` owned by the app, schema ``consumers`` owned by the
   consumers' migrations role. Nobody else may create objects, and no role but the superuser
   may connect to a database it has no business in (``postgres``, ``template1``).
2. each deployable migrates its own schema as its own role (``python -m producer_app migrate``);
   a consumers migration grants each group its own tables.
3. ``grant_cdc`` (superuser): Debezium may read the outbox and write its heartbeat row, nothing
   else; the publication lists exactly those two tables, so WAL decoding never ships order rows.
   The publication is created here, not by Debezium (``publication.autocreate.mode=disabled``),
   because creating it would require owning the tables.
4. ``grant_groups`` (superuser): each group role may use schema ``consumers`` and its own rows
   of ``processed_events`` and ``dead_letter_skips`` (a row-level policy: consumers migration
   0005).

What Postgres cannot narrow: a REPLICATION role may create a logical slot of its own through
the replication protocol, with any output plugin installed, and decode every table of its
database through it. The SQL functions that do the same are taken from PUBLIC here (Debezium
streams through the protocol and needs none of them), and so is ``pg_logical_emit_message``,
which let any role put a record of its choosing on Kafka through Debezium. The rest is made
visible: the exporter lists every slot and an alert fires on any but the connector's.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import psycopg
from psycopg import sql

from contract.database import group_role, group_role_password
from stack.settings import StackSettings

PUBLICATION = "outbox_publication"
CDC_TABLES = ("orders.outbox", "orders.debezium_heartbeat")
# Databases every role could connect to by default; only the superuser needs them.
SYSTEM_DATABASES = ("postgres", "template1")
# Callable by PUBLIC by default. The slot functions still check the REPLICATION attribute, so
# only Debezium's role could use them, and it needs none: its slot is made and read through
# the replication protocol, and dropping or advancing it by SQL is off in connectors/.
PUBLIC_FUNCTIONS_REVOKED = (
    "pg_create_logical_replication_slot(name, name, boolean, boolean)",
    "pg_create_physical_replication_slot(name, boolean, boolean)",
    "pg_copy_logical_replication_slot(name, name)",
    "pg_copy_logical_replication_slot(name, name, boolean)",
    "pg_copy_logical_replication_slot(name, name, boolean, name)",
    "pg_copy_physical_replication_slot(name, name)",
    "pg_copy_physical_replication_slot(name, name, boolean)",
    "pg_drop_replication_slot(name)",
    "pg_replication_slot_advance(name, pg_lsn)",
    "pg_logical_slot_get_changes(name, pg_lsn, integer, text[])",
    "pg_logical_slot_get_binary_changes(name, pg_lsn, integer, text[])",
    "pg_logical_slot_peek_changes(name, pg_lsn, integer, text[])",
    "pg_logical_slot_peek_binary_changes(name, pg_lsn, integer, text[])",
    # Any role could write a message into the WAL that Debezium then publishes to Kafka.
    "pg_logical_emit_message(boolean, text, text)",
    "pg_logical_emit_message(boolean, text, bytea)",
)
# The runtime's tables every group shares (its dedup marks; the dead letters its operator
# settled): what a group role may do to them, the row-level policy keeping it to its own rows.
# Never TRUNCATE: row-level security does not apply to it.
SHARED_TABLES = ("consumers.processed_events", "consumers.dead_letter_skips")
GROUP_MARKS_PRIVILEGES = sql.SQL("SELECT, INSERT, UPDATE, DELETE")

Cursor = psycopg.Cursor[tuple[object, ...]]


def _ensure_role(cur: Cursor, name: str, password: str, *, replication: bool) -> None:
    cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,))
    verb = "ALTER" if cur.fetchone() else "CREATE"
    repl = sql.SQL("REPLICATION") if replication else sql.SQL("NOREPLICATION")
    cur.execute(
        sql.SQL(
            "{} ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS {} PASSWORD {}"
        ).format(sql.SQL(verb), sql.Identifier(name), repl, sql.Literal(password))
    )


def _deployable_roles(cur: Cursor, settings: StackSettings) -> list[str]:
    roles = [
        (settings.app_db_user, "app_db_password", False),
        (settings.consumer_db_user, "consumer_db_password", False),
        (settings.debezium_db_user, "debezium_db_password", True),
        (settings.monitor_db_user, "monitor_db_password", False),
    ]
    for name, secret, replication in roles:
        _ensure_role(cur, name, settings.need(secret).get_secret_value(), replication=replication)
    # Replication slots' positions and the WAL position: statistics, not data.
    cur.execute(sql.SQL("GRANT pg_monitor TO {}").format(sql.Identifier(settings.monitor_db_user)))
    return [name for name, _, _ in roles]


def _group_roles(cur: Cursor, settings: StackSettings, groups: Iterable[str]) -> list[str]:
    secret = settings.need("consumer_db_secret")
    names = []
    for group in groups:
        password = group_role_password(secret, group).get_secret_value()
        _ensure_role(cur, group_role(group), password, replication=False)
        names.append(group_role(group))
    return names


def _close_system_databases(cur: Cursor) -> None:
    for db in SYSTEM_DATABASES:
        cur.execute(
            sql.SQL("REVOKE CONNECT, TEMPORARY ON DATABASE {} FROM PUBLIC").format(
                sql.Identifier(db)
            )
        )


def revoke_functions(settings: StackSettings, dbname: str) -> None:
    """``PUBLIC_FUNCTIONS_REVOKED`` in ``dbname``: a function's privileges are the database's
    own (``template1``'s are what a database created later starts with)."""
    with psycopg.connect(settings.admin_dsn(dbname), autocommit=True) as conn:
        for function in PUBLIC_FUNCTIONS_REVOKED:
            conn.execute(
                sql.SQL("REVOKE EXECUTE ON FUNCTION {} FROM PUBLIC").format(sql.SQL(function))
            )


def bootstrap_roles(settings: StackSettings, groups: Sequence[str] = ()) -> None:
    """Every role (``groups``: one for each consumer group), the database and its schemas,
    and who may connect where."""
    with psycopg.connect(settings.admin_dsn("postgres"), autocommit=True) as conn:
        cur = conn.cursor()
        roles = _deployable_roles(cur, settings) + _group_roles(cur, settings, groups)
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (settings.postgres_db,))
        if cur.fetchone() is None:
            cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(settings.postgres_db)))
        _close_system_databases(cur)
    for dbname in (settings.postgres_db, *SYSTEM_DATABASES):
        revoke_functions(settings, dbname)
    with psycopg.connect(settings.admin_dsn(), autocommit=True) as conn:
        db = sql.Identifier(settings.postgres_db)
        for stmt in (
            sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(db),
            sql.SQL("REVOKE ALL ON SCHEMA public FROM PUBLIC"),
            sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
                db, sql.SQL(", ").join(sql.Identifier(r) for r in roles)
            ),
            sql.SQL("CREATE SCHEMA IF NOT EXISTS orders AUTHORIZATION {}").format(
                sql.Identifier(settings.app_db_user)
            ),
            sql.SQL("CREATE SCHEMA IF NOT EXISTS consumers AUTHORIZATION {}").format(
                sql.Identifier(settings.consumer_db_user)
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


def grant_groups(settings: StackSettings, groups: Iterable[str], dbname: str | None = None) -> None:
    """Each group role's share of the runtime's own tables: schema ``consumers``, and
    ``SHARED_TABLES``, of which the row-level policy lets it see and write only its own
    group's rows. Its read model's tables are granted by the migration that makes them."""
    roles = sql.SQL(", ").join(sql.Identifier(group_role(g)) for g in groups)
    with psycopg.connect(settings.admin_dsn(dbname), autocommit=True) as conn:
        conn.execute(sql.SQL("GRANT USAGE ON SCHEMA consumers TO {}").format(roles))
        for table in SHARED_TABLES:
            conn.execute(
                sql.SQL("GRANT {} ON {} TO {}").format(
                    GROUP_MARKS_PRIVILEGES, sql.Identifier(*table.split(".")), roles
                )
            )


def add_group_role(
    settings: StackSettings, group: str, like: str | None, dbname: str | None = None
) -> None:
    """A group of tests' or benchmarks' own that runs ``like``'s handler: its role, with
    ``like``'s table rights through membership (none: its migration grants its own) and its
    own rows of ``processed_events``. The stack's groups get theirs from ``bootstrap_roles``
    and the migrations."""
    password = group_role_password(settings.need("consumer_db_secret"), group)
    name = group_role(group)
    role = sql.Identifier(name)
    with psycopg.connect(settings.admin_dsn("postgres"), autocommit=True) as conn:
        _ensure_role(conn.cursor(), name, password.get_secret_value(), replication=False)
        if like is not None:
            parent = sql.Identifier(group_role(like))
            conn.execute(sql.SQL("GRANT {} TO {}").format(parent, role))
    with psycopg.connect(settings.admin_dsn(dbname), autocommit=True) as conn:
        db = sql.Identifier(dbname or settings.postgres_db)
        conn.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(db, role))
    grant_groups(settings, [group], dbname)


def drop_group_role(settings: StackSettings, group: str, dbnames: Sequence[str] = ()) -> None:
    """Remove a role ``add_group_role`` made, with what it was granted in each database."""
    role = sql.Identifier(group_role(group))
    for db in dbnames or (settings.postgres_db,):
        with psycopg.connect(settings.admin_dsn(db), autocommit=True) as conn:
            if (
                conn.execute(
                    "SELECT 1 FROM pg_roles WHERE rolname = %s", (group_role(group),)
                ).fetchone()
                is None
            ):
                return
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s",
                (group_role(group),),
            )
            conn.execute(sql.SQL("DROP OWNED BY {}").format(role))
    with psycopg.connect(settings.admin_dsn("postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(role))
