"""The EventProcessor: the poll loop of one group's instance. It runs what ``build_runtime``
built (``runtime.Runtime``) on a Kafka consumer; handlers only ever see an event and a
context.

Per poll: every message of the batch runs through the middleware chain inside **one database
transaction**, then the transaction commits, then the offsets are committed. The batch runs
optimistically first (marks claimed in one statement, no savepoints: ``optimistic``; a
clean batch without the chain: ``clean``); a failing message is then run alone with its
savepoint, retried and dead-lettered (``applier``).
A crash between the two commits redelivers the batch, and ``processed_events`` absorbs it.
On ``Outage``/``BatchConflict`` the transaction rolls back, the partitions are rewound to the
batch's first offsets, and the loop polls again after a backoff: nothing is skipped.

The loop never exits on the infrastructure's fault: Postgres or Kafka unreachable, a topic
without metadata, a rebalance storm, a dead-letter topic that cannot be written. It waits,
logs once per change of state (``Condition``) and resumes by itself; only ``stop()`` ends it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from kafka import TopicPartition
from kafka.errors import KafkaError

from consumer_runtime.condition import Condition
from consumer_runtime.errors import BatchConflict, Outage
from consumer_runtime.membership import Listener, Membership, Rejoin, Watchdog
from consumer_runtime.message import Message
from consumer_runtime.offsets import Offsets, Progress, rewind
from consumer_runtime.ports import Consumer, Turn
from consumer_runtime.runtime import Runtime

log = logging.getLogger("consumers.processor")


class EventProcessor:
    """``rejoin``: how the watchdog checks this instance is still in its group, and rejoins
    (``bootstrap.watchdog``); None where nothing should (a consumer that is not a member)."""

    def __init__(
        self, runtime: Runtime, consumer: Consumer, *, topic: str, rejoin: Rejoin | None = None
    ) -> None:
        self.runtime = runtime
        self.stats = runtime.stats
        self.condition = Condition(runtime.plugs.clock)
        self._topic = topic
        self._options = runtime.options
        self._telemetry = runtime.extras.telemetry
        self._clock, self._sleep = runtime.plugs.clock, runtime.plugs.sleep
        self._offsets = Offsets(self.stats)
        self._progress = Progress()
        self._membership = Membership(
            consumer,
            topic,
            Listener(runtime.group, self, self.stats),
            self.condition,
            Watchdog(rejoin, self._clock) if rejoin is not None else None,
        )
        self._backoff = 0.0
        self._stopping = False
        self._lag: dict[int, int | None] = {}
        self._lag_at: float | None = None
        self._markers_at = float("-inf")

    @property
    def group(self) -> str:
        return self.runtime.group

    @property
    def consumer(self) -> Consumer:
        """The Kafka client in use (the watchdog may have replaced the first one)."""
        return self._membership.consumer

    def assignment(self) -> set[TopicPartition]:
        """The partitions this instance owns right now."""
        return set(self.consumer.assignment())

    def stop(self) -> None:
        """Finish the current batch, commit, and leave the group (SIGTERM/SIGINT)."""
        self._stopping = True

    def run(self, *, until: Callable[[EventProcessor], bool] | None = None) -> None:
        def done() -> bool:
            return self._stopping or bool(until and until(self))

        self._say_clean_path()
        if not self._membership.join(done, self._waiting):
            return
        last_stats = time.monotonic()
        try:
            while not done():
                self.poll_once()
                self.watch(done)
                self.turned()
                if time.monotonic() - last_stats >= self._options.stats_interval:
                    self.log_stats()
                    last_stats = time.monotonic()
        finally:
            self.log_stats()

    def _say_clean_path(self) -> None:
        """Whether this group's clean batches skip the chain, and why, once at start: a
        layer that must see every message turns the fast path off, and that is not silent."""
        path = self.runtime.clean_path
        on_or_off = "on" if path.on else "off"
        log.info("group %s: clean batches %s: %s", self.group, on_or_off, path.why)
        self._telemetry.clean_batches(self.group, path.on, path.why)

    def _waiting(self) -> None:
        """Waiting for the broker is the loop turning, not a hang."""
        self.turned()
        self._sleep(0.5)

    def watch(self, done: Callable[[], bool] = lambda: False) -> None:
        """The watchdog (``membership.Watchdog``): a client that fell out of its group
        without noticing is closed and replaced by a new one, which subscribes again."""
        outage_pause = lambda: self._sleep(self._options.outage_backoff_cap)  # noqa: E731
        if self._membership.watch(done, outage_pause, self._offsets.forget):
            self.stats["rejoins"] += 1
            self._membership.join(done, self._waiting)

    def poll_once(self) -> None:
        try:
            batch = self.consumer.poll(
                timeout_ms=self._options.poll_timeout_ms, max_records=self._options.max_records
            )
        except KafkaError as exc:
            self.stats["outages"] += 1
            self.condition.failing("kafka (poll)", repr(exc))
            self._sleep(self._next_backoff())
            return
        if (self.condition.trouble or "").startswith("kafka"):
            self.condition.ok()  # a poll answered; a database outage is judged by a batch
        messages = [Message.of(r) for records in batch.values() for r in records]
        if messages:
            self._telemetry.batch(self.group, len(messages))
            self.handle(messages)
        elif self._clock() - self._markers_at >= self._options.lag_interval:
            self._markers_at = self._clock()  # idle: commit past transaction markers
            held = set(self.runtime.gate.held)
            self._offsets.past_markers(self.consumer, self.assignment() - held)

    def _next_backoff(self) -> float:
        self._backoff = min(self._options.outage_backoff_cap, max(0.1, self._backoff * 2))
        return self._backoff

    def handle(self, messages: list[Message]) -> None:
        """Apply one poll's messages; commit the offsets of what the database now holds."""
        gate = self.runtime.gate  # a newer schema than this process knows: that partition waits
        messages, held = gate.split(messages)
        gate.hold(self.consumer, held)
        if not messages:
            return
        try:
            outcomes = self.runtime.applier.apply(messages)
        except (Outage, BatchConflict) as exc:
            self._rolled_back(messages, exc)
            return
        self._backoff = 0.0
        self.condition.ok()
        self.stats["batches"] += 1
        done, rest = messages[: len(outcomes)], messages[len(outcomes) :]
        if rest:  # the batch's time budget ran out: the rest is fetched again
            self.stats["budget_splits"] += 1
            rewind(self.consumer, rest)
        self._offsets.applied(done)
        self._progress.applied(done)
        gate.passed(done)
        if self.runtime.extras.on_db_committed is not None:
            self.runtime.extras.on_db_committed()
        self.commit_pending()

    def _rolled_back(self, messages: list[Message], exc: Outage | BatchConflict) -> None:
        """The batch's transaction rolled back: rewound, run again after a backoff."""
        rewind(self.consumer, messages)
        if isinstance(exc, Outage):
            self.stats["outages"] += 1
            self.condition.failing(str(exc).split(":", 1)[0], exc)
        else:
            self.stats["conflicts"] += 1
            log.info("conflict, batch of %d rolled back and run again: %s", len(messages), exc)
        self._sleep(self._next_backoff())

    def commit_pending(
        self, only: set[TopicPartition] | None = None, *, blocking: bool = True
    ) -> None:
        if self._offsets.commit(self.consumer, only, blocking=blocking):
            self._telemetry.committed(self.group)

    def turned(self) -> None:
        """The loop turned: the lag (every few seconds), the gate's held partitions, and the
        turn reported to telemetry (liveness, readiness, the counters)."""
        owned = self.assignment()
        now = self._clock()
        if self._lag_at is None or now - self._lag_at >= self._options.lag_interval:
            self._lag_at = now
            self._lag = self._progress.lag(self.consumer, owned)
        ready = bool(owned) and self.condition.trouble is None
        gate = self.runtime.gate
        gate.turned(self.consumer, owned)
        turn = Turn(self.group, ready, dict(self._lag), self.stats, len(gate.held))
        self._telemetry.turned(turn)

    def log_stats(self) -> None:
        log.info("stats", extra={"fields": {"group": self.group, **dict(self.stats)}})

    def close(self) -> None:
        self.commit_pending()
        self.consumer.close(autocommit=False)
