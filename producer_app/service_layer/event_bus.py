"""The event bus the service layer publishes to. It hides how events leave the process."""

from __future__ import annotations

from typing import Protocol

from producer_app.domain.events import Event


class EventBus(Protocol):
    def publish(self, event: Event) -> None:
        """Publish ``event`` as part of the current unit of work: it is delivered if and only if
        the unit of work commits, at least once, after the commit."""
