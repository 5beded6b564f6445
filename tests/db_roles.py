"""A test's own consumer group logs in to Postgres as a role of its own, as the stack's groups
do (``make up`` makes theirs): ``consumer-<group>``, with the table rights of the group whose
handler it runs (``like``) and its own rows of processed_events. Dropped afterwards: roles
belong to the cluster, not to a database, and would pile up."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from stack import dbinit
from stack.settings import StackSettings
from tests.conftest import ROOT


@contextmanager
def group_role(group: str, like: str | None = "notifications") -> Iterator[None]:
    stack = StackSettings(_env_file=ROOT / ".env")
    dbinit.add_group_role(stack, group, like)
    try:
        yield
    finally:
        dbinit.drop_group_role(stack, group)
