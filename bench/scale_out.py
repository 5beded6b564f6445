"""Scale-out: handled/s of one group with 1, 2 and 3 instances on the topic's partitions.

The events are the benchmark's own: a topic of the event topic's partition count, filled
with enough OrderPlaced events (unique ids, lines from the seed's 40 SKUs) for every window,
so the figure does not depend on what the stack's topic holds. Each count runs in a fresh
scratch database under a fresh group that reads that topic from its start: ``count`` member
processes (``python -m bench.scale_out --member``), each the real ``bootstrap()`` of the
handler measured. Once the group is stable with every member holding partitions, the rows
``processed_events`` gained over a window give handled/s, and the members' CPU over the same
window gives the cores they used. One instance uses about 0.7 of a core, so a second one
helps even on two cores; a third shares them with Postgres and Kafka and finds little left.
docs/scaling.md says what bounds each part past one machine.

``python -m bench.scale_out`` after ``make up``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import replace
from decimal import Decimal
from typing import Any

import psycopg
from kafka import KafkaAdminClient, KafkaProducer
from kafka.admin import NewTopic

from bench.consumer_rates import forget_group
from bench.cpu import tree_cpu_seconds
from bench.limits import sample_record
from bench.scratch import scratch_consumer_db, throwaway_group
from consumers.bootstrap import bootstrap
from consumers.handlers import REGISTRY
from consumers.settings import ConsumerSettings
from contract import AvroCodec, SchemaRepository
from contract import headers as h
from contract.kafka import KafkaAccess
from contract.topics import dlq_topic
from producer_app.entrypoints.seed import CATALOG
from stack.settings import StackSettings

# notifications writes rows no other event touches; the sales projection adds to shared
# (day, SKU) rows, which instances must lock in turn.
HANDLERS = ("notifications", "sales-projection")


def member(handler: str, group: str) -> None:
    """One instance of ``handler`` under the group name ``group`` until SIGTERM."""
    running = bootstrap(
        ConsumerSettings(stats_interval_seconds=3600), replace(REGISTRY[handler], name=group)
    )
    signal.signal(signal.SIGTERM, lambda *_: running.processor.stop())
    try:
        running.processor.run()
    finally:
        running.close()


def fill_topic(tools: KafkaAccess, topic: str, partitions: int, events: int) -> None:
    """``events`` OrderPlaced on a new ``topic``, as the connector would publish them."""
    repo = SchemaRepository.load()
    codec, writer = AvroCodec(repo), repo.get("OrderPlaced")
    admin = KafkaAdminClient(**tools.client())
    try:
        admin.create_topics([NewTopic(topic, partitions, 1)])
    finally:
        admin.close()
    rng = random.Random(17)
    skus = sorted(CATALOG)
    producer = KafkaProducer(**tools.client(acks="all", linger_ms=5, batch_size=256 * 1024))
    for _ in range(events):
        record = sample_record()
        record["event_id"] = event_id = uuid.uuid4()
        record["lines"] = [
            {"sku": sku, "quantity": rng.randint(1, 5), "unit_price": Decimal(CATALOG[sku]) / 100}
            for sku in rng.sample(skus, k=rng.randint(1, 4))
        ]
        headers = [
            (h.EVENT_ID, str(event_id).encode()),
            (h.EVENT_TYPE, b"OrderPlaced"),
            (h.SCHEMA_VERSION, str(writer.version).encode()),
        ]
        producer.send(
            topic,
            key=str(record["order_id"]).encode(),
            value=codec.encode(record, writer),
            headers=headers,
        )
    producer.flush()
    producer.close()


def _stable(admin: KafkaAdminClient, group: str, count: int) -> bool:
    described = admin.describe_groups([group]).get(group, {})
    members = described.get("members") or []
    assigned = [
        m
        for m in members
        if any(
            t["partitions"]
            for t in (m.get("member_assignment") or {}).get("assigned_partitions", [])
        )
    ]
    return described.get("group_state") == "Stable" and len(assigned) == count


def _handled(conninfo: str, group: str) -> int:
    with psycopg.connect(conninfo) as conn:
        row = conn.execute(
            "SELECT count(*) FROM consumers.processed_events WHERE consumer_group = %s", (group,)
        ).fetchone()
    return int(row[0]) if row else 0


def measure_count(
    stack: StackSettings,
    scratch: ConsumerSettings,
    tools: KafkaAccess,
    handler: str,
    count: int,
    *,
    window: float,
    settle: float,
) -> dict[str, Any]:
    group = f"bench-scale-{count}-{uuid.uuid4().hex[:6]}"
    with throwaway_group(stack, scratch, tools, group, handler):
        return _members(scratch, tools, handler, group, count, window=window, settle=settle)


def _members(
    scratch: ConsumerSettings,
    tools: KafkaAccess,
    handler: str,
    group: str,
    count: int,
    *,
    window: float,
    settle: float,
) -> dict[str, Any]:
    env = {
        **os.environ,
        "POSTGRES_DB": scratch.postgres_db,
        "TOPIC": scratch.topic,
        "CONSUMER_METRICS_PORT": "0",
    }
    members = [
        subprocess.Popen(
            [sys.executable, "-m", "bench.scale_out", "--member", handler, group], env=env
        )
        for _ in range(count)
    ]
    admin = KafkaAdminClient(**tools.client())
    try:
        deadline = time.monotonic() + 120
        while not _stable(admin, group, count):
            if time.monotonic() > deadline:
                raise RuntimeError(f"{group}: {count} members never held partitions together")
            time.sleep(0.5)
        time.sleep(settle)  # past the rebalance: every member fetching
        conninfo = scratch.conninfo(group)  # its own role sees its own marks
        cpu0 = sum(tree_cpu_seconds(m.pid) for m in members)
        n0, t0 = _handled(conninfo, group), time.monotonic()
        time.sleep(window)
        n1, t1 = _handled(conninfo, group), time.monotonic()
        cpu1 = sum(tree_cpu_seconds(m.pid) for m in members)
        if not _stable(admin, group, count):
            raise RuntimeError(f"{group}: rebalanced during the window; measure again")
    finally:
        admin.close()
        for m in members:
            m.send_signal(signal.SIGTERM)
        for m in members:
            try:
                m.wait(timeout=30)
            except subprocess.TimeoutExpired:
                m.kill()
        forget_group(tools, group, [dlq_topic(group, scratch.dlq_prefix)])
    if n1 == n0:
        raise RuntimeError(f"{group}: nothing handled in the window (is the topic seeded?)")
    return {
        "instances": count,
        "handled_per_s": round((n1 - n0) / (t1 - t0), 1),
        "cores": round((cpu1 - cpu0) / (t1 - t0), 2),
    }


def measure(
    stack: StackSettings, consumer: ConsumerSettings, *, quick: bool = False
) -> dict[str, Any]:
    """Per handler (quick: the sales projection only), handled/s and cores at 1, 2 and 3
    instances, and each count's ratio to one instance."""
    tools = stack.kafka_as("tools")
    window, settle = (3.0, 1.0) if quick else (15.0, 3.0)
    topic = f"bench.scale.{uuid.uuid4().hex[:8]}"
    # Enough for a group at well past this machine's pace to stay busy through a window.
    fill_topic(tools, topic, consumer.topic_partitions, int((window + settle + 5) * 10_000))
    result: dict[str, Any] = {"partitions": consumer.topic_partitions, "handlers": {}}
    try:
        for handler in HANDLERS[1:] if quick else HANDLERS:
            rows = []
            for count in (1, 2, 3):
                with scratch_consumer_db(stack, consumer, name="shop_bench_scale") as scratch:
                    on_topic = scratch.model_copy(update={"topic": topic})
                    rows.append(
                        measure_count(
                            stack, on_topic, tools, handler, count, window=window, settle=settle
                        )
                    )
            one = rows[0]["handled_per_s"]
            for row in rows:
                row["vs_one"] = round(row["handled_per_s"] / one, 2)
            result["handlers"][handler] = rows
    finally:
        admin = KafkaAdminClient(**tools.client())
        try:
            admin.delete_topics([topic])
        finally:
            admin.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--member", nargs=2, metavar=("HANDLER", "GROUP"), help=argparse.SUPPRESS)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.member:
        member(*args.member)
        return
    result = measure(StackSettings(), ConsumerSettings(), quick=args.quick)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
