"""``make bench-eos``: Connect's exactly-once source (KIP-618) off and on, in one run, on the
topology that runs (``make up TOPOLOGY=ha``: a second worker for the task to move to).

For each mode every Connect worker is restarted with ``exactly.once.source.support`` set (a
worker group runs one mode), the connector registered with or without
``exactly.once.support=required``, and then:

1. **latency** at ``rate`` orders/s through the service layer: commit→Kafka (the record's
   timestamp), commit→visible (when a ``read_committed`` reader first saw it: a record in a
   transaction is visible once the transaction commits) and commit→handled (the last of the
   three groups, from Postgres' commit timestamps);
2. **kill -9 of the worker running the task** under the same load: the event ids a
   ``read_committed`` reader (the consumers) sees more than once, every extra copy in the log
   (aborted transactions' included), and the seconds until the task ran again;
3. **drain**: the connector stopped while ``backlog`` orders are written, then resumed.
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from kafka import KafkaConsumer, TopicPartition

from bench import backlog, pipeline
from bench.connector import connector_stopped
from contract import headers
from contract.kafka_reads import end_offsets
from producer_app.bootstrap import Producer
from stack.connect_mode import kill_task_worker, restart_workers
from stack.layout import Layout
from stack.parts import consumer_groups
from stack.settings import StackSettings

TOPIC = pipeline.ORDER_TOPIC
GROUPS = consumer_groups()


@dataclass
class Mode:
    exactly_once: bool
    offered_per_s: float = 0.0
    committed_per_s: float = 0.0
    commit_to_kafka_ms: dict[str, float] = field(default_factory=dict)
    commit_to_visible_ms: dict[str, float] = field(default_factory=dict)
    commit_to_handled_ms: dict[str, float] = field(default_factory=dict)
    killed: str = ""
    task_back_s: float = 0.0
    republished: int = 0  # extra copies a read_committed reader saw, over all event ids
    copies_in_log: int = 0  # every extra record of an event id, aborted transactions' too
    drain_per_s: float = 0.0
    load_average: float = 0.0  # the 5-minute load average as the mode ended: a shared machine


def _reader(stack: StackSettings, start: dict[int, int], committed: bool) -> KafkaConsumer:
    level = "read_committed" if committed else "read_uncommitted"
    c = KafkaConsumer(
        **stack.kafka_as("tools").client(enable_auto_commit=False, isolation_level=level)
    )
    c.assign([TopicPartition(TOPIC, p) for p in start])
    for p, offset in start.items():
        c.seek(TopicPartition(TOPIC, p), offset)
    return c


class Watcher:
    """A ``read_committed`` reader tailing the topic from ``start``: when each order's first
    event became visible (this machine's clock, as Postgres' commit timestamps are)."""

    def __init__(self, stack: StackSettings, start: dict[int, int]) -> None:
        self.seen: dict[str, float] = {}
        self._stop = threading.Event()
        self._consumer = _reader(stack, start, committed=True)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            for records in self._consumer.poll(timeout_ms=100).values():
                now = time.time()
                for m in records:
                    self.seen.setdefault((m.key or b"").decode(), now)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(10)
        self._consumer.close()


def event_ids(stack: StackSettings, start: dict[int, int], committed: bool) -> Counter[str]:
    """How often each event id is on the topic past ``start``: as a ``read_committed`` reader
    sees it, or (not ``committed``) every record in the log."""
    c = _reader(stack, start, committed)
    try:
        parts = [TopicPartition(TOPIC, p) for p in start]
        end = c.end_offsets(parts)
        found: Counter[str] = Counter()
        deadline = time.monotonic() + 120
        while any(c.position(tp) < end[tp] for tp in parts) and time.monotonic() < deadline:
            for records in c.poll(timeout_ms=300).values():
                found.update(
                    v.decode() for m in records for k, v in m.headers or () if k == headers.EVENT_ID
                )
        return found
    finally:
        c.close()


def _latency(stack: StackSettings, producer: Producer, mode: Mode, seconds: float) -> None:
    kafka = stack.kafka_as("tools")
    start = end_offsets(kafka, TOPIC)
    watcher = Watcher(stack, start)
    rate = mode.offered_per_s
    result = pipeline.offer(producer, orders=int(rate * seconds), rate=rate, workers=8)
    mode.committed_per_s = result.orders_per_second
    committed, handled, _ = pipeline.handled_times(stack.admin_dsn(), result.placed_ids, 180)
    watcher.close()
    arrived = pipeline.kafka_times(kafka, start, result.placed_ids, 120)
    visible = {oid: watcher.seen[str(oid)] for oid in committed if str(oid) in watcher.seen}
    mode.commit_to_kafka_ms = pipeline.percentiles(pipeline.ms_since_commit(committed, arrived))
    mode.commit_to_visible_ms = pipeline.percentiles(pipeline.ms_since_commit(committed, visible))
    mode.commit_to_handled_ms = pipeline.percentiles(pipeline.ms_since_commit(committed, handled))


def _failover(
    layout: Layout, stack: StackSettings, producer: Producer, mode: Mode, seconds: float
) -> None:
    kafka = stack.kafka_as("tools")
    start = end_offsets(kafka, TOPIC)
    rate = mode.offered_per_s
    load = threading.Thread(
        target=pipeline.offer,
        args=(producer,),
        kwargs={"orders": int(rate * seconds), "rate": rate, "workers": 8},
    )
    load.start()
    time.sleep(seconds / 3)
    victim, mode.task_back_s = kill_task_worker(layout, stack)
    mode.killed = victim.name
    load.join()
    victim.up()
    pipeline.wait_drained(kafka, GROUPS, timeout=600)
    mode.republished = sum(n - 1 for n in event_ids(stack, start, committed=True).values())
    mode.copies_in_log = sum(n - 1 for n in event_ids(stack, start, committed=False).values())


def measure(
    layout: Layout, stack: StackSettings, producer: Producer, mode: Mode, *, seconds: float,
    backlog_orders: int,
) -> Mode:  # fmt: skip
    stack = stack.model_copy(update={"connect_exactly_once": mode.exactly_once})
    kafka = stack.kafka_as("tools")
    restart_workers(layout, stack)
    pipeline.wait_drained(kafka, GROUPS)
    _latency(stack, producer, mode, seconds)
    pipeline.wait_drained(kafka, GROUPS)
    _failover(layout, stack, producer, mode, seconds)
    with connector_stopped(stack.connect_rest()):
        since = end_offsets(kafka, TOPIC)
        pipeline.offer(producer, orders=backlog_orders, workers=8)
    mode.drain_per_s = backlog.drain_rate(kafka, TOPIC, since, backlog_orders, timeout=300)
    pipeline.wait_drained(kafka, GROUPS)
    mode.load_average = os.getloadavg()[1]
    return mode


def run(
    layout: Layout, producer: Producer, *, rate: float, seconds: float, backlog_orders: int
) -> dict[str, Any]:
    """Off, then on; the workers are left as ``CONNECT_EXACTLY_ONCE`` says (the default)."""
    stack = StackSettings()
    modes = [
        measure(layout, stack, producer, Mode(on, offered_per_s=rate), seconds=seconds,
                backlog_orders=backlog_orders)
        for on in (False, True)
    ]  # fmt: skip
    restart_workers(layout, stack)
    return {"topology": stack.topology.name, "modes": [asdict(m) for m in modes]}
