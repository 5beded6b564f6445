"""The events a deployable reads, as the runtime needs to know them: a catalog.

The runtime is generic over the events. A deployable hands it its own: the event classes by
type name, the reader schema version it was built and tested against for each, and the two
functions between an Avro record (resolved to that reader schema) and an event.
``consumers.events.EVENTS`` is this project's. Registrations carry it
(``handlers.group_registrations``), so that decoding, the newer-schema gate and the test kit
all read the same one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class EventCatalog:
    """``types``: event type name -> class; ``reader_versions``: event type name -> the reader
    schema version; ``from_record``/``to_record``: an Avro record of that version <-> an
    event (``to_record`` feeds events to a handler without Kafka: ``testkit``)."""

    types: Mapping[str, type[Any]]
    reader_versions: Mapping[str, int]
    from_record: Callable[[str, dict[str, Any]], Any]
    to_record: Callable[[Any], tuple[str, dict[str, Any]]]

    def names(self, classes: tuple[type[Any], ...]) -> frozenset[str]:
        """The type names of ``classes``; raises ``TypeError`` naming any that is no event."""
        known = {cls: name for name, cls in self.types.items()}
        unknown = [c for c in classes if c not in known]
        if unknown:
            raise TypeError(f"{unknown} are not events ({sorted(self.types)})")
        return frozenset(known[c] for c in classes)
