"""The failover chaos run's pure parts (issue 28): which kinds each topology runs, which broker
leads the event topic, which node is the active controller, whose window a duplicate on the
topic is in, the rules that cut one broker off, and the report's per-kind figures."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from chaos import network
from chaos.failover import BROKER_SESSION_TIMEOUT_S
from chaos.report import Injection, Report
from chaos.run import FAULTS, FAULTS_OF, kinds
from chaos.verdict import Verdict
from chaos.windows import Window, active_controller, duplicates_by_kind, mentions, most_led

ROOT = Path(__file__).resolve().parents[2]
HA_KINDS = {
    "kill -9 of the event topic's leader broker",
    "kill -9 of the active KRaft controller",
    "kill -9 of the Connect worker running the task",
    "SIGSTOP of the leader broker past its session timeout",
    "the leader broker partitioned from the other two",
    "two brokers down: writes stop and nothing is lost",
    "ISR below min.insync.replicas: writes refused then delivered",
    "rolling restart of every broker and worker",
}


def test_each_topology_runs_its_own_kinds() -> None:
    """The single topology keeps its kinds as they were; the HA one runs the failover kinds,
    none of which names a part the other topology lacks (``kafka``, ``connect``)."""
    assert kinds("single") is FAULTS
    assert set(kinds("ha")) == HA_KINDS
    assert not set(kinds("ha")) & set(FAULTS)
    with pytest.raises(ValueError, match="topology 'triple'"):
        kinds("triple")
    assert set(FAULTS_OF) == {"single", "ha"}


def _partitions(*leaders: int) -> list[dict[str, object]]:
    return [
        {
            "name": "outbox.event.order",
            "partitions": [{"partition_index": i, "leader_id": n} for i, n in enumerate(leaders)],
        }
    ]


def test_the_leader_is_the_broker_leading_most_partitions() -> None:
    assert most_led(_partitions(3, 1, 3, 2, 3, 1)) == 3
    assert most_led(_partitions(3, 1, 2, 1, 3, 2)) == 1  # a tie: the lowest id
    assert most_led(_partitions(-1, 2, -1)) == 2  # an offline partition leads nothing
    assert most_led(_partitions(-1, -1)) is None
    assert most_led([]) is None


def _gauge(value: str) -> str:
    return (
        "# TYPE kafka_controller_kafkacontroller_activecontrollercount gauge\n"
        f"kafka_controller_kafkacontroller_activecontrollercount {value}\n"
        "kafka_controller_kafkacontroller_offlinepartitionscount 1.0\n"
    )


def test_the_active_controller_is_the_one_node_whose_gauge_is_one() -> None:
    assert active_controller({1: _gauge("0.0"), 2: _gauge("1.0"), 3: _gauge("0.0")}) == 2
    # During an election none, or two for a moment: not an answer yet.
    assert active_controller({1: _gauge("0.0"), 2: _gauge("0.0"), 3: _gauge("0.0")}) is None
    assert active_controller({1: _gauge("1.0"), 2: _gauge("1.0"), 3: _gauge("0.0")}) is None
    assert active_controller({1: "", 2: "", 3: ""}) is None


def test_a_duplicate_counts_for_the_last_kind_injected_before_it() -> None:
    """A copy re-published after the cluster looked whole again (Connect revoking the task
    late, seen after a SIGSTOP of the group's coordinator) still counts for that fault."""
    kill = Window("kill", {0: 10, 1: 5})
    roll = Window("roll", {0: 30, 1: 12})
    copies = [
        ("z", 0, 2),
        ("z", 0, 4),  # before any fault
        ("a", 0, 3),
        ("a", 0, 12),  # re-published after kill began
        ("b", 1, 6),
        ("b", 1, 7),  # both copies after kill began: the second is the duplicate
        ("d", 1, 10),
        ("d", 1, 11),  # late, still kill's: roll began at 12 on partition 1
        ("c", 0, 31),
        ("c", 0, 35),
        ("c", 0, 39),  # two duplicates in roll's
        ("e", 0, 25),  # once: no duplicate
    ]
    assert duplicates_by_kind(copies, [kill, roll]) == {
        "kill": 3,
        "roll": 2,
        "before the first fault": 1,
    }
    assert duplicates_by_kind(copies[2:3], [kill]) == {}
    # A partition the window did not record (the topic grew) is not the window's.
    assert duplicates_by_kind([("x", 7, 1), ("x", 7, 2)], [kill]) == {"before the first fault": 1}


def test_refusals_are_counted_by_line() -> None:
    log = (
        "WARN Got error produce response ... Error: NOT_ENOUGH_REPLICAS\n"
        "INFO all fine\n"
        "ERROR org.apache.kafka.common.errors.NotEnoughReplicasException: ...\n"
    )
    assert mentions(log, ("NOT_ENOUGH_REPLICAS", "NotEnoughReplicas")) == 2


PORTS = {1: [19192, 19193], 2: [19292, 19293], 3: [19392, 19393]}


def test_isolating_a_broker_drops_its_links_to_the_others_and_theirs_to_it_only() -> None:
    rules = network.isolation_rules(1, PORTS)
    found = {(r[r.index("--mark") + 1], int(r[3])) for r in rules}
    mine, two, three = hex(network.BROKER_MARK + 1), hex(0x4F52), hex(0x4F53)
    # What node 1 opens to nodes 2 and 3, and what they open to node 1; both directions.
    assert found == {(mine, p) for n in (2, 3) for p in PORTS[n]} | {
        (m, p) for m in (two, three) for p in PORTS[1]
    }
    assert len(rules) == 16
    assert all(r[-2:] == ["-j", "DROP"] for r in rules)
    assert not [r for r in rules if network.MARK in r]  # the consumers' mark is untouched


def test_unfollowing_a_broker_drops_only_what_the_others_open_to_its_client_port() -> None:
    """Its controller port and its own fetches from the others stay open: the quorum stands,
    nobody is fenced, and only the partitions it leads lose their followers."""
    rules = network.unfollowed_rules(2, {n: ports[0] for n, ports in PORTS.items()})
    found = {(r[r.index("--mark") + 1], int(r[3])) for r in rules}
    assert found == {(hex(network.BROKER_MARK + n), PORTS[2][0]) for n in (1, 3)}
    assert len(rules) == 4  # both directions of each link
    assert {r[2] for r in rules} == {"--dport", "--sport"}


def test_a_broker_runs_under_its_own_group_id() -> None:
    cmd = network.as_broker(2, ["java", "-cp", "x"])
    assert cmd[:2] == ["setpriv", f"--regid={network.BROKER_GID + 2}"]
    assert cmd[-3:] == ["java", "-cp", "x"]


def test_the_stop_outlasts_the_brokers_session_timeout_kafka_default() -> None:
    """SIGSTOP of a broker holds past broker.session.timeout.ms: Kafka's default 9 s, which
    server.properties must then leave alone (or this figure must follow it)."""
    conf = (ROOT / "stack" / "conf" / "server.properties").read_text()
    assert not re.search(r"^broker\.session\.timeout\.ms", conf, re.MULTILINE)
    assert BROKER_SESSION_TIMEOUT_S == 9.0


def test_the_report_gives_recovery_and_duplicates_per_failover_kind() -> None:
    kind = "kill -9 of the event topic's leader broker"
    report = Report(requested=[kind], verdict=Verdict(run_orders=1))
    report.injections = [Injection(kind, 10, 12.0), Injection(kind, 90, 20.0)]
    report.injections.append(Injection(kind, 150, 14.0))
    report.duplicates_by_kind = {kind: 3, "before the first fault": 1}
    report.notes = {kind: ["kafka-1", "kafka-3", "kafka-2"]}
    text = report.markdown()
    assert f"| {kind} | 3 | kafka-1; kafka-3; kafka-2 |" in text
    assert "| before the first fault | 1 | |" in text
    assert f"| {kind} | 3 | 14.0 s | 20.0 s | ok |" in text


def test_the_single_topologys_report_has_no_failover_table() -> None:
    text = Report(requested=["kill -9 kafka"]).markdown()
    assert text.startswith("| fault | injected |")
    assert "failover kind" not in text
