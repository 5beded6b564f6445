"""Topic names of the contract: where the events and a group's dead letters go. The producer
writes there; the consumers, the operator's tools and the checks all find them by this name."""

from __future__ import annotations

DLQ_PREFIX = "dlq."
# Where the Outbox Event Router sends the orders' events (``outbox.event.<aggregate_type>``).
ORDER_EVENTS = "outbox.event.order"


def dlq_topic(group: str, prefix: str = DLQ_PREFIX) -> str:
    """The dead-letter topic of consumer group ``group``."""
    return f"{prefix}{group}"


def is_dlq(topic: str, prefix: str = DLQ_PREFIX) -> bool:
    return topic.startswith(prefix)
