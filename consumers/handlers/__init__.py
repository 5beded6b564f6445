"""The handlers: every ``@handler``-decorated function in this package's modules, grouped by
consumer group. A new handler is one decorated function in a module here, the migration of
its tables, and its group declared in ``contract/groups.py`` (so that ``make up`` provisions
its Kafka principal); its group name is its Kafka consumer group (see
``consumer_runtime.registry`` on renaming). ``batch=`` names an optional set-based form with
the same effect, checked against the database by tests/integration/test_batch_handlers.py."""

from __future__ import annotations

from consumer_runtime.handlers import discover, group_registrations
from consumer_runtime.registry import Registration
from consumers.events import EVENTS
from contract.groups import CONSUMER_GROUPS

REGISTRY: dict[str, Registration] = group_registrations(discover(__name__), EVENTS)

if set(REGISTRY) != set(CONSUMER_GROUPS):
    raise TypeError(
        f"the handlers' groups {sorted(REGISTRY)} are not the groups declared in "
        f"contract/groups.py {sorted(CONSUMER_GROUPS)}: declare each group there once"
    )
