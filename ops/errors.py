"""Unreachable dependencies, named, so the tool can say which one and where."""

from __future__ import annotations


class Unreachable(Exception):
    def __init__(self, what: str, where: str, detail: object) -> None:
        super().__init__(f"{what} is not reachable at {where}: {detail}")
        self.what, self.where = what, where
