"""The processor's view of its dependencies, logged once per change of state.

An outage can last minutes; a warning per retried batch would bury everything else in the
log. ``Condition`` logs when trouble starts (with the first error), when its kind changes,
and when it ends (with how long it lasted); the retries in between are only counted.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

log = logging.getLogger("consumers.processor")


class Condition:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.trouble: str | None = None
        self._since = 0.0
        self.retries = 0

    def failing(self, kind: str, detail: object) -> None:
        """``kind`` names the state (``postgres``, ``kafka poll``, ...); same kind, same state."""
        if self.trouble == kind:
            self.retries += 1
            return
        if self.trouble is None:
            self._since = self._clock()
        self.trouble, self.retries = kind, 0
        log.warning("waiting: %s unavailable: %s", kind, detail)

    def ok(self) -> None:
        if self.trouble is None:
            return
        log.warning(
            "recovered: %s back after %.1fs (%d retries)",
            self.trouble,
            self._clock() - self._since,
            self.retries,
        )
        self.trouble = None
