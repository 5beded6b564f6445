"""What went wrong, named by cause, so the tool can say which dependency and where, and never
call a refusal or a bug "not reachable"."""

from __future__ import annotations


class Unreachable(Exception):
    """A dependency did not answer (refused, timed out, no broker)."""

    def __init__(self, what: str, where: str, detail: object) -> None:
        super().__init__(f"{what} is not reachable at {where}: {detail}")
        self.what, self.where = what, where


class Refused(Exception):
    """A dependency answered and said no (authentication, authorization, a request it rejects):
    waiting will not help."""

    def __init__(self, what: str, where: str, detail: object) -> None:
        super().__init__(f"{what} at {where} refused the request: {detail}")
        self.what, self.where = what, where
