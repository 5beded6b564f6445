"""Postgres out of disk, for one table only: a small tmpfs mounted as a tablespace.

The table is moved into the tablespace, the tmpfs is filled to the last byte, and every write
that needs a new page fails with SQLSTATE 53100 (disk full), exactly as on a full volume,
while the rest of the database (the WAL included) goes on. Freeing the filler ends the
episode. Needs root (``mount``); Postgres must own the mount, so it is mounted with its uid.
"""

from __future__ import annotations

import os
import pwd
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg import sql


def can_mount() -> bool:
    return os.geteuid() == 0


class SmallTablespace:
    def __init__(self, admin_dsn: str, name: str, size_mb: int = 16) -> None:
        self._dsn = admin_dsn
        self.name = name
        self._size_mb = size_mb
        self.path = Path(tempfile.mkdtemp(prefix=f"{name}-"))
        self._filler = self.path / "filler"
        self._moved: list[str] = []

    def _sql(self, statement: sql.Composed | str) -> None:
        with psycopg.connect(self._dsn, autocommit=True) as conn:
            conn.execute(statement)

    def create(self) -> None:
        owner = pwd.getpwnam("postgres")
        subprocess.run(
            [
                "mount",
                "-t",
                "tmpfs",
                "-o",
                f"size={self._size_mb}m,mode=0700,uid={owner.pw_uid},gid={owner.pw_gid}",
                "tmpfs",
                str(self.path),
            ],
            check=True,
            capture_output=True,
        )
        self._sql(
            sql.SQL("CREATE TABLESPACE {} LOCATION {}").format(
                sql.Identifier(self.name), sql.Literal(str(self.path))
            )
        )

    def move(self, table: str) -> None:
        """``table`` as schema.name; its indexes stay where they are."""
        self._sql(
            sql.SQL("ALTER TABLE {} SET TABLESPACE {}").format(
                sql.Identifier(*table.split(".")), sql.Identifier(self.name)
            )
        )
        self._moved.append(table)

    def fill(self) -> None:
        """Write zeros until the tmpfs has no byte left."""
        with open(self._filler, "wb") as fh:
            block = b"\0" * (1 << 16)
            try:
                while True:
                    fh.write(block)
                    fh.flush()
            except OSError:
                pass

    def free(self) -> None:
        self._filler.unlink(missing_ok=True)

    def drop(self) -> None:
        """Everything back where it was; safe to call after a partial ``create``."""
        self.free()
        for table in self._moved:
            self._sql(
                sql.SQL("ALTER TABLE {} SET TABLESPACE pg_default").format(
                    sql.Identifier(*table.split("."))
                )
            )
        self._moved.clear()
        self._sql(sql.SQL("DROP TABLESPACE IF EXISTS {}").format(sql.Identifier(self.name)))
        subprocess.run(["umount", str(self.path)], check=False, capture_output=True)
        self.path.rmdir()


@contextmanager
def small_tablespace(admin_dsn: str, name: str, size_mb: int = 16) -> Iterator[SmallTablespace]:
    space = SmallTablespace(admin_dsn, name, size_mb)
    try:
        space.create()
        yield space
    finally:
        space.drop()
