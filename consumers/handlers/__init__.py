"""The handlers: every ``@handler``-decorated function in this package's modules, grouped by
consumer group. A new handler is one decorated function in a module here (plus the migration
of its tables); its group name is its Kafka consumer group (see
``consumers.runtime.registry`` on renaming). ``batch=`` names an optional set-based form with
the same effect, checked against the database by tests/integration/test_batch_handlers.py."""

from __future__ import annotations

from consumers.runtime.handlers import discover, group_registrations
from consumers.runtime.registry import Registration

REGISTRY: dict[str, Registration] = group_registrations(discover(__name__))
