"""The EventProcessor: subscription, decoding, dispatch, idempotency and commits for one
handler (one consumer group). Handlers only ever see an event and a context.

Per poll: every message of the batch runs through the middleware chain inside **one database
transaction**, then the transaction commits, then the offsets are committed. The batch runs
optimistically first (marks claimed in one statement, no savepoints: ``optimistic``); a
failing message is then run alone with its savepoint, retried and dead-lettered (``applier``).
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
from collections import Counter
from collections.abc import Callable
from typing import Any

from kafka import TopicPartition
from kafka.errors import KafkaError

from consumers.runtime import middleware as mw
from consumers.runtime.applier import BatchApplier
from consumers.runtime.clean import CleanBatch
from consumers.runtime.condition import Condition
from consumers.runtime.errors import BatchConflict, Outage
from consumers.runtime.membership import Listener, Rejoin, Watchdog
from consumers.runtime.message import Message, Transactions
from consumers.runtime.newer_schemas import NewerSchemaGate
from consumers.runtime.offsets import Offsets, Progress, rewind
from consumers.runtime.registry import Registration
from consumers.runtime.telemetry import Quiet, Telemetry, Turn

log = logging.getLogger("consumers.processor")


class EventProcessor:
    def __init__(
        self,
        registration: Registration,
        *,
        consumer: Any,
        topic: str,
        transactions: Transactions,
        chain: mw.Step,
        max_records: int = 500,
        poll_timeout_ms: int = 200,
        outage_max_backoff: float = 5.0,
        stats_interval: float = 10.0,
        sleep: Callable[[float], None] = time.sleep,
        on_db_committed: Callable[[], None] | None = None,
        rejoin: Rejoin | None = None,
        clock: Callable[[], float] = time.monotonic,
        optimistic: bool = True,
        batch_budget: float = 30.0,
        handler_bound: float = 10.0,
        telemetry: Telemetry | None = None,
        lag_interval: float = 5.0,
        gate: NewerSchemaGate | None = None,
        clean: CleanBatch | None = None,
    ) -> None:
        self.registration = registration
        self._consumer = consumer
        self._topic = topic
        self._max_records = max_records
        self._poll_timeout_ms = poll_timeout_ms
        self._outage_max = outage_max_backoff
        self._stats_interval = stats_interval
        self._sleep = sleep
        # Called after the database commit and before the offset commit; tests use it to
        # simulate a crash in exactly that gap.
        self._on_db_committed = on_db_committed
        self._backoff = 0.0
        self._stopping = False
        self._watchdog = Watchdog(rejoin, clock) if rejoin is not None else None
        self.stats: Counter[str] = Counter()
        self._offsets = Offsets(self.stats)
        self._telemetry = telemetry or Quiet()
        self._lag_interval = lag_interval
        self._lag: dict[int, int | None] = {}
        self._lag_at: float | None = None
        self._progress = Progress()
        self._clock = clock
        self._gate = gate
        self.condition = Condition(clock)
        self._applier = BatchApplier(
            registration,
            transactions,
            chain,
            self.stats,
            optimistic=optimistic,
            budget=batch_budget,
            clock=clock,
            bound=handler_bound,
            telemetry=self._telemetry,
            clean=clean,
        )

    @property
    def group(self) -> str:
        return self.registration.name

    def assignment(self) -> set[TopicPartition]:
        """The partitions this instance owns right now."""
        return set(self._consumer.assignment())

    def stop(self) -> None:
        """Finish the current batch, commit, and leave the group (SIGTERM/SIGINT)."""
        self._stopping = True

    def run(self, *, until: Callable[[EventProcessor], bool] | None = None) -> None:
        def done() -> bool:
            return self._stopping or bool(until and until(self))

        if not self._subscribe(done):
            return
        last_stats = time.monotonic()
        try:
            while not done():
                self.poll_once()
                self._watch_assignment(done)
                self._turned()
                if time.monotonic() - last_stats >= self._stats_interval:
                    self.log_stats()
                    last_stats = time.monotonic()
        finally:
            self.log_stats()

    def _subscribe(self, done: Callable[[], bool]) -> bool:
        """Subscribe once the topic's partitions are known; False if told to stop first."""
        if not self._wait_for_partitions(done):
            return False
        self._consumer.subscribe([self._topic], listener=Listener(self, self.stats))
        return True

    def _watch_assignment(self, done: Callable[[], bool] = lambda: False) -> None:
        """The watchdog (``membership.Watchdog``): a client that fell out of its group
        without noticing is closed and replaced by a new one, which subscribes again."""
        if self._watchdog is None or not self._watchdog.lost(self.condition):
            return
        log.warning(
            "not a member of group %s for %.0fs; rejoining with a new client",
            self.group,
            self._watchdog.rejoin.after,
        )
        self.stats["rejoins"] += 1
        self._offsets.forget()
        self._consumer.close(autocommit=False)
        while not done():
            try:
                self._consumer = self._watchdog.rejoin.new_consumer()
                break
            except KafkaError as exc:
                self.condition.failing("kafka (new client)", repr(exc))
                self._sleep(self._outage_max)
        else:
            return
        self._subscribe(done)

    def _wait_for_partitions(self, done: Callable[[], bool]) -> bool:
        """Wait, for as long as it takes, until the topic's partitions are known. Joining
        while a restarted broker has no metadata for the topic yet gets an empty assignment,
        and kafka-python 3.0.12 was seen to leave such an instance outside its group,
        busy-polling. False if told to stop first."""
        while not done():
            try:
                if self._consumer.partitions_for_topic(self._topic):
                    self.condition.ok()
                    return True
                self._consumer.topics()  # refresh metadata
                self.condition.failing("kafka (topic metadata)", f"no partitions for {self._topic}")
            except KafkaError as exc:
                self.condition.failing("kafka (topic metadata)", repr(exc))
            self._turned()  # waiting for the broker is the loop turning, not a hang
            self._sleep(0.5)
        return False

    def poll_once(self) -> None:
        try:
            batch = self._consumer.poll(
                timeout_ms=self._poll_timeout_ms, max_records=self._max_records
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

    def _next_backoff(self) -> float:
        self._backoff = min(self._outage_max, max(0.1, self._backoff * 2))
        return self._backoff

    def handle(self, messages: list[Message]) -> None:
        if self._gate is not None:  # a newer schema than this process knows: that partition waits
            messages, held = self._gate.split(messages)
            self._gate.hold(self._consumer, held)
            if not messages:
                return
        try:
            outcomes = self._applier.apply(messages)
        except Outage as exc:
            self.stats["outages"] += 1
            self._rewind(messages)
            self.condition.failing(str(exc).split(":", 1)[0], exc)
            self._sleep(self._next_backoff())
            return
        except BatchConflict as exc:
            self.stats["conflicts"] += 1
            self._rewind(messages)
            log.info("conflict, batch of %d rolled back and run again: %s", len(messages), exc)
            self._sleep(self._next_backoff())
            return
        self._backoff = 0.0
        self.condition.ok()
        self.stats["batches"] += 1
        done, rest = messages[: len(outcomes)], messages[len(outcomes) :]
        if rest:  # the batch's time budget ran out: the rest is fetched again
            self.stats["budget_splits"] += 1
            self._rewind(rest)
        self._offsets.applied(done)
        self._progress.applied(done)
        if self._gate is not None:
            self._gate.passed(done)
        if self._on_db_committed is not None:
            self._on_db_committed()
        self.commit_pending()

    def _rewind(self, messages: list[Message]) -> None:
        rewind(self._consumer, messages)

    def commit_pending(
        self, only: set[TopicPartition] | None = None, *, blocking: bool = True
    ) -> None:
        if self._offsets.commit(self._consumer, only, blocking=blocking):
            self._telemetry.committed(self.group)

    def _turned(self) -> None:
        owned = self.assignment()
        now = self._clock()
        if self._lag_at is None or now - self._lag_at >= self._lag_interval:
            self._lag_at = now
            self._lag = self._progress.lag(self._consumer, owned)
        ready = bool(owned) and self.condition.trouble is None
        waiting = 0
        if self._gate is not None:
            self._gate.turned(self._consumer, owned)
            waiting = len(self._gate.held)
        self._telemetry.turned(Turn(self.group, ready, dict(self._lag), self.stats, waiting))

    def log_stats(self) -> None:
        log.info("stats", extra={"fields": {"group": self.group, **dict(self.stats)}})

    def close(self) -> None:
        self.commit_pending()
        self._consumer.close(autocommit=False)
