"""``make psql [ROLE=]``: a ``psql`` shell on the stack's database as one of its roles, the
password taken from ``.env`` and handed over in the environment (never on a command line,
where ``ps`` would show it). Without ``ROLE``, the superuser.

The roles are read from the database (every role that may log in), not from a list here, so
a role the bootstrap adds is offered as soon as it exists; a role whose password ``.env``
does not hold is named as such. ``JSON=1`` lists the roles instead of opening a shell.
Standard input that is not a terminal is run as a script (``echo 'SELECT 1' | make psql``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from typing import Any

import psycopg
from pydantic import SecretStr

from contract.cli import BadArgument
from contract.kafka import KafkaAccess
from stack.settings import StackSettings


def login_roles(settings: StackSettings) -> list[dict[str, Any]]:
    """Every role that may log in, with whether ``.env`` holds its password."""
    with psycopg.connect(settings.admin_dsn(), connect_timeout=5) as conn:
        rows = conn.execute(
            "SELECT rolname, rolsuper FROM pg_roles WHERE rolcanlogin ORDER BY rolname"
        ).fetchall()
    return [
        {"role": name, "superuser": su, "password_in_env": password_for(settings, name) is not None}
        for name, su in rows
    ]


def password_for(settings: StackSettings, role: str) -> SecretStr | None:
    """The password of ``role`` from the settings: the field ``<x>_password`` beside the
    field ``<x>_user`` that names it (``postgres_user``, ``app_db_user``, ...), or for a
    consumer group's role (``consumer-<group>``) the one derived from ``CONSUMER_DB_SECRET``."""
    from contract.database import GROUP_ROLE_PREFIX, group_role_password

    for name in type(settings).model_fields:
        if name.endswith("_user") and getattr(settings, name) == role:
            secret = getattr(settings, name.removesuffix("_user") + "_password", None)
            return secret if isinstance(secret, SecretStr) else None
    if role.startswith(GROUP_ROLE_PREFIX) and settings.consumer_db_secret is not None:
        return group_role_password(
            settings.consumer_db_secret, role.removeprefix(GROUP_ROLE_PREFIX)
        )
    return None


def psql_binary() -> str:
    """The server binaries' psql (the native stack's), else one on PATH."""
    from stack.health import StackError
    from stack.postgres import find_bin_dir

    try:
        found = find_bin_dir() / "psql"
        if found.exists():
            return str(found)
    except StackError:
        pass
    on_path = shutil.which("psql")
    if on_path is None:
        raise StackError(
            "psql not found on this host: apt-get install -y postgresql-client (with the "
            "compose stack, or: docker compose exec postgres psql -U postgres shop)"
        )
    return on_path


def cmd_psql(args: argparse.Namespace, _: KafkaAccess) -> int:
    settings = StackSettings()
    role = args.role or settings.postgres_user
    roles = login_roles(settings)
    if args.json:
        print(json.dumps(roles, indent=2))
        return 0
    usable = [r["role"] for r in roles if r["password_in_env"]]
    if role not in {r["role"] for r in roles}:
        raise BadArgument(f"ROLE={role!r} is no role that may log in (roles: {', '.join(usable)})")
    password = password_for(settings, role)
    if password is None:
        raise BadArgument(
            f"ROLE={role!r}: .env holds no password for it (roles with one: {', '.join(usable)})"
        )
    env = {
        **os.environ,
        "PGHOST": settings.postgres_host,
        "PGPORT": str(settings.postgres_port),
        "PGDATABASE": settings.postgres_db,
        "PGUSER": role,
        "PGPASSWORD": password.get_secret_value(),
    }
    command = [psql_binary(), "-v", "ON_ERROR_STOP=1"]
    if not sys.stdin.isatty():
        command += ["-X", "-q"]  # a script: no .psqlrc, no chatter
    sys.stdout.flush()
    os.execvpe(command[0], command, env)  # noqa: S606 - psql, with the role's password in env
