"""A clone made again at the path of a deleted one starts a cluster of its own.

As root the cluster lives outside the clone (``stack.postgres.outside_dir``). CI clones main at
one path every run; when that folder was named after the path alone, the new clone's fresh
``.env`` met the old clone's cluster and every superuser login failed ("password authentication
failed for user postgres"), so ``make test`` stopped before its first test. Real ``initdb``,
``pg_ctl`` and logins here, on a port of the test's own."""

from __future__ import annotations

import secrets
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from pydantic import SecretStr

from stack import postgres
from stack.layout import Layout
from stack.settings import StackSettings

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _clone_settings(port: int) -> StackSettings:
    """What ``make env`` gives a fresh clone: a superuser password of its own."""
    return StackSettings(
        _env_file=None,
        postgres_port=port,
        postgres_password=SecretStr(secrets.token_urlsafe(24)),
        postgres_db="orders",
        stack_bind_host="127.0.0.1",
    )


@pytest.fixture
def clone_path(tmp_path: Path) -> Iterator[Layout]:
    layout = Layout(tmp_path / "clone")
    layout.root.mkdir()
    yield layout
    postgres.stop(layout, "immediate")
    for path in [*postgres.leftovers(layout), *([layout.pg.resolve()] * layout.pg.is_symlink())]:
        shutil.rmtree(path, ignore_errors=True)


def _start_and_login(layout: Layout, settings: StackSettings, notes: list[str]) -> str:
    postgres.prepare_dir(layout, warn=notes.append)
    postgres.initdb(layout, settings)
    postgres.start(layout, settings)
    try:
        with psycopg.connect(settings.admin_dsn("postgres"), connect_timeout=10) as conn:
            row = conn.execute("SELECT current_user").fetchone()
            return str(row[0]) if row else ""
    finally:
        postgres.stop(layout)


def test_a_new_clone_at_an_old_path_logs_in_with_its_own_password(clone_path: Layout) -> None:
    port, notes = _free_port(), list[str]()
    assert _start_and_login(clone_path, _clone_settings(port), notes) == "postgres"
    first = clone_path.pg.resolve()

    # The clone is deleted (its .stack and .env with it) and cloned again at the same path.
    shutil.rmtree(clone_path.stack_dir)
    assert _start_and_login(clone_path, _clone_settings(port), notes) == "postgres"

    again = clone_path.pg.resolve()
    if clone_path.pg.is_symlink():  # as root: the cluster lives outside the clone
        assert again != first, "the new clone started the deleted clone's cluster"
        assert first.exists(), "the old cluster is kept until make clean, not deleted unasked"
        assert postgres.leftovers(clone_path) == [first]
        assert any(str(first) in note for note in notes), notes


def test_the_same_clone_keeps_its_cluster(clone_path: Layout) -> None:
    """The link is the record: every later start of one clone uses its first folder."""
    settings, notes = _clone_settings(_free_port()), list[str]()
    _start_and_login(clone_path, settings, notes)
    first = clone_path.pg.resolve()
    assert _start_and_login(clone_path, settings, notes) == "postgres"
    assert clone_path.pg.resolve() == first
    assert notes == []
