"""What the runtime hands around: the raw Kafka message, what happened to it, and what a
handler gets next to its event."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg


@dataclass(frozen=True)
class Message:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes | None], ...]
    timestamp_ms: int = 0

    @classmethod
    def of(cls, record: Any) -> Message:
        """From a kafka-python ``ConsumerRecord`` (headers may be None, timestamp -1/None)."""
        return cls(
            record.topic,
            record.partition,
            record.offset,
            record.key,
            record.value,
            tuple(record.headers or ()),
            record.timestamp or 0,
        )

    def header(self, name: str) -> str | None:
        for k, v in self.headers:
            if k == name and v is not None:
                return v.decode("utf-8", "replace")
        return None

    @property
    def where(self) -> str:
        return f"{self.topic}[{self.partition}]@{self.offset}"


class Outcome(enum.Enum):
    """What happened to one message; the values are the processor's stats keys."""

    HANDLED = "handled"
    DUPLICATE = "duplicate"
    DEAD_LETTERED = "dead_lettered"
    IGNORED = "ignored"  # a known event type this handler does not subscribe to

    @classmethod
    def settled(cls, stats: Mapping[str, int]) -> int:
        """How many messages got an outcome, from stats keyed by outcome values."""
        return sum(stats.get(o.value, 0) for o in cls)


@dataclass(frozen=True)
class HandlerContext:
    """What a handler gets next to the event: the connection whose transaction its effect
    goes into (never commit or roll back on it: the runtime does, with the offsets), its
    group, the Kafka message it came in (topic, partition, offset, key, headers) and the
    time the runtime handed it over."""

    connection: psycopg.Connection[Any]
    group: str
    message: Message
    now: datetime

    @property
    def headers(self) -> dict[str, str]:
        """The message's headers as strings (a null value left out)."""
        return {k: v.decode("utf-8", "replace") for k, v in self.message.headers if v is not None}
