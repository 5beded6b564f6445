"""Prometheus metrics of the consumers: the ``Telemetry`` port as counters, histograms and
gauges (prometheus-client).

``python -m consumers`` runs one process per (group, instance); prometheus-client's
multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``, set by ``consumers.observability.server``
before the library is imported) lets one port serve them all: counters and histograms are
summed over processes, gauges aggregated as each one's ``multiprocess_mode`` says.

Names follow Prometheus' conventions (base units, ``_total``, ``_seconds``). Freshness is
measured from the Kafka record's timestamp, which Debezium's outbox router sets when it turns
the committed row into an event; Debezium's own distance from the database is its
``MilliSecondsBehindSource`` (the Connect JMX exporter), so the two together cover commit ->
handled.
"""

from __future__ import annotations

import time
from collections import Counter as Tally
from collections.abc import Callable, Iterable, Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from consumer_runtime.message import Message, Outcome
from consumer_runtime.ports import Turn
from contract import headers as h

# The processor's stats keys exported as counters (``outbox_consumer_<name>_total``).
STATS = {
    "retries": "attempts of a message after its first one failed",
    "outages": "batches or polls that waited out Postgres or Kafka",
    "conflicts": "batches rolled back on a serialization conflict and run again",
    "isolations": "optimistic batches that fell back to one savepoint per message",
    "rebalances": "partition assignments this group's instances received",
    "rejoins": "times the watchdog replaced a client that had fallen out of its group",
    "commit_failures": "offset commits that failed (the batch may be redelivered)",
    "budget_splits": "batches cut short by their time budget (the rest fetched again)",
}
FRESHNESS_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900)
DURATION_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
BATCH_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)


class PrometheusTelemetry:
    """One per process; ``registry`` is where the metrics are registered (a fresh one per
    process in production, one per test)."""

    def __init__(self, registry: CollectorRegistry, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._exported: Tally[tuple[str, str]] = Tally()
        self._last_lag: dict[str, dict[int, int | None]] = {}
        self._counters_and_histograms(registry)
        self._gauges(registry)

    def _counters_and_histograms(self, r: CollectorRegistry) -> None:
        self.messages = Counter(
            "outbox_consumer_messages",
            "Messages settled, by outcome, counted once their transaction committed",
            ["group", "event_type", "outcome"],
            registry=r,
        )
        self.stats = {
            key: Counter(f"outbox_consumer_{key}", doc, ["group"], registry=r)
            for key, doc in STATS.items()
        }
        self.freshness = Histogram(
            "outbox_consumer_freshness_seconds",
            "Record timestamp (Debezium turned the commit into an event) to handled",
            ["group"],
            buckets=FRESHNESS_BUCKETS,
            registry=r,
        )
        self.duration = Histogram(
            "outbox_consumer_process_seconds",
            "One message through the chain: decode, retries, handler",
            ["group"],
            buckets=DURATION_BUCKETS,
            registry=r,
        )
        self.batch_size = Histogram(
            "outbox_consumer_batch_size_messages",
            "Messages per poll",
            ["group"],
            buckets=BATCH_BUCKETS,
            registry=r,
        )

    def _gauges(self, r: CollectorRegistry) -> None:
        """Per process, aggregated over processes as each ``multiprocess_mode`` says."""
        self.lag = Gauge(
            "outbox_consumer_lag_messages",
            "High-water mark minus the next offset to handle, per owned partition",
            ["group", "partition"],
            multiprocess_mode="livemax",
            registry=r,
        )
        self.last_commit = Gauge(
            "outbox_consumer_last_commit_timestamp_seconds",
            "When offsets were last committed (after the database commit)",
            ["group"],
            multiprocess_mode="max",
            registry=r,
        )
        self.last_turn = Gauge(
            "outbox_consumer_last_turn_timestamp_seconds",
            "When the poll loop last turned (liveness), per process",
            ["group"],
            multiprocess_mode="liveall",
            registry=r,
        )
        self.ready = Gauge(
            "outbox_consumer_ready",
            "1 when the process holds partitions and reaches Postgres, per process",
            ["group"],
            multiprocess_mode="liveall",
            registry=r,
        )
        self.waiting = Gauge(
            "outbox_consumer_partitions_waiting_for_schema",
            "Owned partitions paused at an event whose schema version is newer than the "
            "process knows (deploy the consumers with that schema)",
            ["group"],
            multiprocess_mode="livesum",
            registry=r,
        )
        self.clean = Gauge(
            "outbox_consumer_clean_batches",
            "1 when the group's clean batches skip the per-message chain, 0 when every batch "
            "runs it; why: what decided (a batch form, user middleware, a setting)",
            ["group", "why"],
            multiprocess_mode="livemax",
            registry=r,
        )
        self.schemas = Gauge(
            "outbox_consumer_schema_known",
            "1 per writer schema version the process can decode (make schemas reads it)",
            ["group", "event_type", "version", "fingerprint"],
            multiprocess_mode="livemax",
            registry=r,
        )
        self.instances = Gauge(
            "outbox_consumer_instances",
            "Live processes of the group",
            ["group"],
            multiprocess_mode="livesum",
            registry=r,
        )

    def started(self, group: str) -> None:
        """The process is up (before its first poll, which may wait for the broker)."""
        self.instances.labels(group).set(1)
        self.last_turn.labels(group).set(self._clock())
        self.ready.labels(group).set(0)

    def clean_batches(self, group: str, on: bool, why: str) -> None:
        self.clean.labels(group, why).set(1 if on else 0)

    def knows(self, group: str, versions: Iterable[tuple[str, int, str]]) -> None:
        """The writer schemas this process loaded: (event type, version, fingerprint hex)."""
        for event_type, version, fingerprint in versions:
            self.schemas.labels(group, event_type, str(version), fingerprint).set(1)

    def settled(self, group: str, messages: Sequence[Message], outcomes: Sequence[Outcome]) -> None:
        now = self._clock()
        counts: Tally[tuple[str, str]] = Tally()
        fresh = self.freshness.labels(group)
        for m, o in zip(messages, outcomes, strict=True):
            counts[(m.header(h.EVENT_TYPE) or "unknown", o.value)] += 1
            if o is Outcome.HANDLED and m.timestamp_ms > 0:
                fresh.observe(max(0.0, now - m.timestamp_ms / 1000))
        for (event_type, outcome), n in counts.items():
            self.messages.labels(group, event_type, outcome).inc(n)

    def timed(self, group: str, seconds: float) -> None:
        self.duration.labels(group).observe(seconds)

    def batch(self, group: str, size: int) -> None:
        self.batch_size.labels(group).observe(size)

    def committed(self, group: str) -> None:
        self.last_commit.labels(group).set(self._clock())

    def turned(self, turn: Turn) -> None:
        g = turn.group
        self.last_turn.labels(g).set(self._clock())
        self.ready.labels(g).set(1 if turn.ready else 0)
        self.waiting.labels(g).set(turn.waiting_for_schema)
        for key, counter in self.stats.items():
            delta = turn.stats.get(key, 0) - self._exported[(g, key)]
            if delta > 0:
                counter.labels(g).inc(delta)
                self._exported[(g, key)] += delta
        before = self._last_lag.get(g, {})
        if before == turn.lag:
            return  # refreshed every few seconds, not every turn
        self._last_lag[g] = dict(turn.lag)
        known = {p: lag for p, lag in turn.lag.items() if lag is not None}
        for p in {p for p, lag in before.items() if lag is not None} - set(known):
            self.lag.labels(g, str(p)).set(0)  # no longer ours: another process reports it
        for p, lag in known.items():
            self.lag.labels(g, str(p)).set(lag)
