"""The registered handlers. A new handler is one function plus one line here; its name is its
consumer group (see ``consumers.runtime.registry`` on renaming)."""

from __future__ import annotations

from consumers.events import OrderCancelled, OrderPlaced
from consumers.handlers.inventory import reserve
from consumers.handlers.notifications import notify
from consumers.handlers.sales_projection import project
from consumers.runtime.registry import Registration

REGISTRY: dict[str, Registration] = {
    r.name: r
    for r in (
        Registration.of("notifications", notify, OrderPlaced, OrderCancelled),
        Registration.of("sales-projection", project, OrderPlaced, OrderCancelled),
        Registration.of("inventory", reserve, OrderPlaced, OrderCancelled),
    )
}
