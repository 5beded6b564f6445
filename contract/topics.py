"""Topic names of the contract: where a group's dead letters go. The producer side never
writes there; the consumers, the operator's tools and the checks all find them by this name."""

from __future__ import annotations

DLQ_PREFIX = "dlq."


def dlq_topic(group: str, prefix: str = DLQ_PREFIX) -> str:
    """The dead-letter topic of consumer group ``group``."""
    return f"{prefix}{group}"


def is_dlq(topic: str, prefix: str = DLQ_PREFIX) -> bool:
    return topic.startswith(prefix)
