"""The consumer groups this system runs, declared once. ``consumers.handlers`` refuses a
handler's group that is not declared here (and a declared group without a handler), and the
stack provisions each group's Kafka principal and ACLs from this list, without importing the
consumers. A new group is a line here and a ``@handler`` there."""

from __future__ import annotations

CONSUMER_GROUPS: tuple[str, ...] = ("inventory", "notifications", "sales-projection")
