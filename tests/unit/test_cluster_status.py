"""``make status``'s view of the Kafka cluster (ops/cluster.py): every broker the topology
expects, and the partitions that lost a copy, that refuse writes, that have no leader, read
from what kafka-python's describe_cluster and describe_topics answer."""

from __future__ import annotations

from typing import Any

from ops import cluster
from stack.connect import parse_status

THREE = [(1, "127.0.0.1:9192"), (2, "127.0.0.1:9292"), (3, "127.0.0.1:9392")]


def _cluster(*fenced: int, absent: tuple[int, ...] = ()) -> dict[str, Any]:
    return {
        "brokers": [
            {"broker_id": n, "host": "127.0.0.1", "port": 9092 + 100 * n, "is_fenced": n in fenced}
            for n in (1, 2, 3)
            if n not in absent
        ]
    }


def _topic(name: str, *partitions: tuple[int, list[int], list[int]]) -> dict[str, Any]:
    return {
        "name": name,
        "partitions": [
            {
                "partition_index": i,
                "leader_id": leader,
                "replica_nodes": [1, 2, 3],
                "isr_nodes": isr,
            }
            for i, (leader, _, isr) in enumerate(partitions)
        ],
    }


def test_a_healthy_cluster_is_every_broker_up_and_nothing_short() -> None:
    topics = [_topic("outbox.event.order", (1, [], [1, 2, 3]), (2, [], [2, 3, 1]))]
    view = cluster.assess(THREE, _cluster(), topics, 2)
    problems: list[str] = []
    warnings: list[str] = []
    cluster.judge(view, problems, warnings)
    assert [b["state"] for b in view.brokers] == ["up", "up", "up"]
    assert view.partitions == 2
    assert problems == warnings == []
    assert cluster.summary(view)[1] == (
        "partitions: 2, under-replicated 0, under min.insync.replicas 0, offline 0"
    )


def test_one_broker_down_is_a_problem_and_its_copies_a_warning() -> None:
    topics = [_topic("outbox.event.order", (1, [], [1, 3]), (3, [], [3, 1]), (1, [], [1, 2, 3]))]
    view = cluster.assess(THREE, _cluster(2), topics, 2)
    problems: list[str] = []
    warnings: list[str] = []
    cluster.judge(view, problems, warnings)
    assert problems == ["Kafka broker 2 at 127.0.0.1:9292: fenced"]
    assert warnings == [
        "2 partition(s) under-replicated: outbox.event.order-0, outbox.event.order-1"
    ]


def test_two_brokers_down_refuse_writes_and_a_leaderless_partition_is_offline() -> None:
    topics = [_topic("dlq.inventory", (1, [], [1]), (-1, [], []))]
    view = cluster.assess(THREE, _cluster(3, absent=(2,)), topics, 2)
    problems: list[str] = []
    cluster.judge(view, problems, [])
    assert problems == [
        "Kafka broker 2 at 127.0.0.1:9292: absent",
        "Kafka broker 3 at 127.0.0.1:9392: fenced",
        "1 partition(s) offline: dlq.inventory-1",
        "2 partition(s) under min.insync.replicas, writes refused: dlq.inventory-0, "
        "dlq.inventory-1",
    ]


def test_on_one_broker_one_replica_is_enough() -> None:
    one = {"name": "t", "partitions": [
        {"partition_index": 0, "leader_id": 1, "replica_nodes": [1], "isr_nodes": [1]}
    ]}  # fmt: skip
    view = cluster.assess([(1, "127.0.0.1:9092")], _cluster(absent=(2, 3)), [one], 1)
    problems: list[str] = []
    warnings: list[str] = []
    cluster.judge(view, problems, warnings)
    assert problems == warnings == []


def test_a_long_list_of_partitions_is_cut() -> None:
    topics = [_topic("t", *[(1, [], [1]) for _ in range(8)])]
    warnings: list[str] = []
    cluster.judge(cluster.assess(THREE, _cluster(), topics, 1), [], warnings)
    assert warnings == ["8 partition(s) under-replicated: t-0, t-1, t-2, t-3, t-4 and 3 more"]


def test_the_status_names_the_worker_each_task_runs_on() -> None:
    body = {
        "name": "orders-outbox",
        "connector": {"state": "RUNNING", "worker_id": "127.0.0.1:8283"},
        "tasks": [{"id": 0, "state": "RUNNING", "worker_id": "127.0.0.1:8283"}],
    }
    assert parse_status(body).workers == ("127.0.0.1:8283",)
