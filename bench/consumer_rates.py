"""Consumer throughput on the order topic, measured in one run:

1. raw kafka-python poll loop (no decode), then poll + fastavro single-object decode: the ceiling
   of any Python consumer on this machine;
2. each handler replaying the whole topic under a fresh group into a scratch database (real
   Postgres writes, processed_events, one transaction per batch), and its ratio to (1).

``python -m bench.consumer_rates`` after ``make up`` and ``make seed``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import time
import uuid
from dataclasses import asdict, dataclass, replace

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

from bench.scratch import scratch_consumer_db, throwaway_group
from consumer_runtime.message import Outcome
from consumer_runtime.registry import Registration
from consumers.bootstrap import bootstrap
from consumers.handlers import REGISTRY
from consumers.settings import ConsumerSettings
from contract import AvroCodec, SchemaRepository
from contract.errors import ContractError
from contract.kafka import KafkaAccess
from contract.topics import dlq_topic
from stack.settings import StackSettings

log = logging.getLogger("bench")


@dataclass
class Rate:
    name: str
    messages: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.messages / self.seconds if self.seconds else 0.0


def topic_size(bootstrap_servers: KafkaAccess, topic: str) -> tuple[list[TopicPartition], int]:
    c = KafkaConsumer(**bootstrap_servers.client())
    parts = [TopicPartition(topic, p) for p in sorted(c.partitions_for_topic(topic) or ())]
    begin, end = c.beginning_offsets(parts), c.end_offsets(parts)
    c.close()
    return parts, sum(end[tp] - begin[tp] for tp in parts)


def forget_group(
    bootstrap_servers: KafkaAccess, group: str, topics: list[str] | None = None
) -> None:
    """A measurement's throwaway group (and ``topics`` of its own, such as its dead-letter
    topic) would otherwise stay listed by ``make lag`` and ``make topics`` for good."""
    admin = KafkaAdminClient(**bootstrap_servers.client())
    try:
        if topics:
            admin.delete_topics(topics)
        for _ in range(10):  # the member that just left may still be listed for a moment
            outcome = admin.delete_groups([group]).get(group)
            if outcome in ("OK", "GroupIdNotFoundError"):
                return
            time.sleep(0.5)
        log.warning("could not delete consumer group %s: %s", group, outcome)
    finally:
        admin.close()


def raw_loop(
    bootstrap_servers: KafkaAccess, topic: str, total: int, *, decode: bool, max_records: int
) -> Rate:
    codec = AvroCodec(SchemaRepository.load())
    c = KafkaConsumer(
        topic,
        **bootstrap_servers.client(),
        group_id=(group := f"bench-raw-{uuid.uuid4().hex[:8]}"),
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=max_records,
        fetch_max_wait_ms=100,
    )
    seen, started = 0, None
    while seen < total:
        for records in c.poll(timeout_ms=500, max_records=max_records).values():
            started = started or time.perf_counter()
            for m in records:
                # Poison counts as read: bytes no schema wrote, and the tombstones make chaos
                # leaves on the topic (no value at all).
                if decode and m.value is not None:
                    with contextlib.suppress(ContractError):
                        codec.decode(m.value)
                seen += 1
    seconds = time.perf_counter() - (started or time.perf_counter())
    c.close()
    forget_group(bootstrap_servers, group)
    return Rate("raw poll + decode" if decode else "raw poll", seen, seconds)


def handler_rate(
    stack: StackSettings, settings: ConsumerSettings, tools: KafkaAccess, name: str, total: int
) -> Rate:
    registration = REGISTRY[name]
    bench_registration = replace(registration, name=f"bench-{name}-{uuid.uuid4().hex[:6]}")
    # A throwaway group is a principal and a role of its own, granted what a group may do.
    with throwaway_group(stack, settings, tools, bench_registration.name, name):
        return _rate(settings, tools, bench_registration, name, total)


def _rate(
    settings: ConsumerSettings,
    tools: KafkaAccess,
    bench_registration: Registration,
    name: str,
    total: int,
) -> Rate:
    running = bootstrap(settings, bench_registration)
    processor = running.processor
    started: list[float] = []

    def until(p: object) -> bool:
        n = Outcome.settled(processor.stats)
        if n and not started:
            started.append(time.perf_counter())
        return n >= total

    processor.run(until=until)
    seconds = time.perf_counter() - started[0]
    running.close()
    # Its dead letters (old poison on the topic) were counted; the topic goes with the group.
    group = bench_registration.name
    forget_group(tools, group, [dlq_topic(group, settings.dlq_prefix)])
    return Rate(name, Outcome.settled(processor.stats), seconds)


def measure(
    stack: StackSettings, consumer: ConsumerSettings, limit: int | None = None
) -> dict[str, object]:
    tools = stack.kafka_as("tools")
    _, total = topic_size(tools, consumer.topic)
    total = min(total, limit) if limit else total
    raw, decoded = (
        raw_loop(
            tools,
            consumer.topic,
            total,
            decode=decode,
            max_records=consumer.max_poll_records,
        )
        for decode in (False, True)
    )
    with scratch_consumer_db(stack, consumer) as scratch:
        handlers = [handler_rate(stack, scratch, tools, name, total) for name in sorted(REGISTRY)]
    return {
        "topic": consumer.topic,
        "messages": total,
        "raw_poll_per_s": raw.per_second,
        "raw_poll_decode_per_s": decoded.per_second,
        "handlers": {
            h.name: {
                **asdict(h),
                "per_s": h.per_second,
                "ratio_to_poll_decode": h.per_second / decoded.per_second,
            }
            for h in handlers
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = measure(StackSettings(), ConsumerSettings(stats_interval_seconds=3600))
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"topic {result['topic']}: {result['messages']} messages")
    print(f"  raw kafka-python poll          {result['raw_poll_per_s']:>10,.0f} msg/s")
    print(f"  raw poll + fastavro decode     {result['raw_poll_decode_per_s']:>10,.0f} msg/s")
    for name, h in result["handlers"].items():  # type: ignore[attr-defined]
        print(
            f"  handler {name:<22} {h['per_s']:>10,.0f} events/s"
            f"  = {h['ratio_to_poll_decode']:.2f} x poll+decode"
        )


if __name__ == "__main__":
    main()
