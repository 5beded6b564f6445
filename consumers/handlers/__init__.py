"""The registered handlers. A new handler is one function plus one line here; its name is its
consumer group (see ``consumers.runtime.registry`` on renaming). ``batch=`` names an optional
set-based form with the same effect, checked against the database by
tests/integration/test_batch_handlers.py."""

from __future__ import annotations

from consumers.events import OrderCancelled, OrderPlaced
from consumers.handlers.inventory import reserve, reserve_all
from consumers.handlers.notifications import notify, notify_all
from consumers.handlers.sales_projection import project, project_all
from consumers.runtime.registry import Registration

REGISTRY: dict[str, Registration] = {
    r.name: r
    for r in (
        Registration.of("notifications", notify, OrderPlaced, OrderCancelled, batch=notify_all),
        Registration.of(
            "sales-projection", project, OrderPlaced, OrderCancelled, batch=project_all
        ),
        Registration.of("inventory", reserve, OrderPlaced, OrderCancelled, batch=reserve_all),
    )
}
