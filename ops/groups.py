"""``make groups [GROUP=]``: each consumer group as the broker sees it: its state (Stable,
Empty, PreparingRebalance, ...), its members (client id and host), which partitions each
holds, and per partition the committed offset, the end and the lag. What ``kafka-consumer-
groups --describe`` and Kafka UI's group page show, as a table or ``JSON=1``.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from kafka import TopicPartition

from contract.cli import BadArgument
from contract.kafka import KafkaAccess
from ops.kafka_io import admin, consumer
from ops.tables import console, table

out = console()


@dataclass
class Member:
    client_id: str
    host: str
    partitions: list[str]  # "topic[p]"


@dataclass
class PartitionLag:
    topic: str
    partition: int
    committed: int | None
    end: int
    member: str | None  # client id of the member that holds it, None when nobody does

    @property
    def lag(self) -> int:
        return self.end - (self.committed or 0)


@dataclass
class Group:
    group: str
    state: str
    members: list[Member] = field(default_factory=list)
    partitions: list[PartitionLag] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        found = asdict(self)
        for row, p in zip(found["partitions"], self.partitions, strict=True):
            row["lag"] = p.lag
        return found


def _members(described: dict[str, Any]) -> list[Member]:
    members = []
    for m in described.get("members") or []:
        assigned = (m.get("member_assignment") or {}).get("assigned_partitions") or []
        members.append(
            Member(
                m.get("client_id", "?"),
                str(m.get("client_host", "?")).lstrip("/"),
                [f"{a['topic']}[{p}]" for a in assigned for p in a["partitions"]],
            )
        )
    return members


def describe(access: KafkaAccess, only: str | None = None) -> list[Group]:
    with admin(access) as a:
        listed = {g["group_id"]: g for g in a.list_groups() if g.get("protocol_type") == "consumer"}
        if only is not None and only not in listed:
            known = ", ".join(sorted(listed)) or "none"
            raise BadArgument(f"GROUP: no consumer group {only!r} on the broker (groups: {known})")
        names = [only] if only else sorted(listed)
        described = a.describe_groups(names)
        committed = {g: a.list_group_offsets(g).get(g, {}) for g in names}
    groups = []
    with consumer(access) as c:
        for name in names:
            group = Group(name, described[name].get("group_state") or "Unknown")
            group.members = _members(described[name])
            holder = {p: m.client_id for m in group.members for p in m.partitions}
            offsets: dict[TopicPartition, Any] = committed[name]
            ends = c.end_offsets(list(offsets)) if offsets else {}
            group.partitions = [
                PartitionLag(
                    tp.topic,
                    tp.partition,
                    meta.offset if meta else None,
                    ends[tp],
                    holder.get(f"{tp.topic}[{tp.partition}]"),
                )
                for tp, meta in sorted(offsets.items())
            ]
            groups.append(group)
    return groups


def cmd_groups(args: argparse.Namespace, access: KafkaAccess) -> int:
    found = describe(access, args.group)
    if args.json:
        print(json.dumps([g.as_dict() for g in found], indent=2))
        return 0
    for g in found:
        hosts = ", ".join(f"{m.client_id}@{m.host}" for m in g.members) or "no members"
        out.print(f"[bold]{g.group}[/] {g.state}, {len(g.members)} member(s): {hosts}")
        rows = table("topic", "partition", "member", "committed", "end", "lag")
        for p in g.partitions:
            rows.add_row(
                p.topic,
                str(p.partition),
                p.member or "-",
                "-" if p.committed is None else str(p.committed),
                str(p.end),
                str(p.lag),
            )
        out.print(rows)
    return 0
