"""What a use case did, in the domain's words. The service layer knows nothing of HTTP; the
entrypoints map a ``Change`` to a status code, and Idempotency-Key replays store the Result."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Change(StrEnum):
    """The state change a write use case made (stored with replays, so names are stable)."""

    PLACED = "placed"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class Result:
    """A write use case's answer: the change and the order's view after it. ``replayed``: the
    answer comes from an earlier request with the same Idempotency-Key and nothing was written."""

    change: Change
    order: dict[str, Any]
    replayed: bool = False
