"""What the processor tells the outside world about itself: the ``Telemetry`` port.

The runtime calls it at the points where a fact is true, never before: a batch part's
outcomes once its transaction committed (so ``handled`` summed over a group equals the events
the database holds, however many rollbacks came in between), the poll loop's turn once it
turned. Adapters decide what to make of it (Prometheus metrics in
``consumers.observability.metrics``); ``Quiet`` is the default, for tests and tools.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from consumers.runtime.message import Message, Outcome


@dataclass(frozen=True)
class Turn:
    """The poll loop after one turn, as health probes and gauges see it.

    ``ready``: it holds partitions and its last batch reached Postgres (no outage pending).
    ``lag``: per owned partition, the high-water mark minus the position, as this consumer
    last heard it from the broker (None when it has not fetched from that partition yet).
    ``stats``: the processor's running counters (outages, conflicts, isolations, retries,
    rebalances, rejoins, commit failures, ...), cumulative since the process started.
    ``waiting_for_schema``: owned partitions paused at an event written with a schema newer
    than this process knows (``consumers.runtime.newer_schemas``)."""

    group: str
    ready: bool
    lag: Mapping[int, int | None]
    stats: Mapping[str, int]
    waiting_for_schema: int = 0


class Telemetry(Protocol):
    def settled(self, group: str, messages: Sequence[Message], outcomes: Sequence[Outcome]) -> None:
        """A part of a batch committed: ``outcomes[i]`` is what happened to ``messages[i]``.
        Called after the database commit only, once per committed part."""

    def timed(self, group: str, seconds: float) -> None:
        """One message went through the chain (decode, retries, handler) in ``seconds``,
        whether or not its transaction commits later. In a clean batch
        (``consumers.runtime.clean``), each message's share of the batch's time."""

    def batch(self, group: str, size: int) -> None:
        """A poll returned ``size`` messages, about to be applied."""

    def committed(self, group: str) -> None:
        """Offsets were committed to Kafka (after the database commit)."""

    def turned(self, turn: Turn) -> None:
        """The poll loop turned (or waited out an outage): liveness and the gauges."""


class Quiet:
    """Telemetry that keeps nothing: the default outside ``python -m consumers``."""

    def settled(self, group: str, messages: Sequence[Message], outcomes: Sequence[Outcome]) -> None:
        pass

    def timed(self, group: str, seconds: float) -> None:
        pass

    def batch(self, group: str, size: int) -> None:
        pass

    def committed(self, group: str) -> None:
        pass

    def turned(self, turn: Turn) -> None:
        pass
