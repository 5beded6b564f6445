"""``lag``: committed offset, end offset and lag per consumer group and partition."""

from __future__ import annotations

from dataclasses import dataclass

from contract.kafka import KafkaAccess
from ops.kafka_io import admin, consumer


@dataclass(frozen=True)
class PartitionLag:
    group: str
    topic: str
    partition: int
    committed: int | None
    end: int

    @property
    def lag(self) -> int:
        return self.end - (self.committed or 0)


def group_lag(bootstrap: KafkaAccess, groups: list[str] | None = None) -> list[PartitionLag]:
    with admin(bootstrap) as a:
        if groups is None:
            groups = sorted(
                g["group_id"] for g in a.list_groups() if g.get("protocol_type") == "consumer"
            )
        committed = {g: a.list_group_offsets(g).get(g, {}) for g in groups}
    rows: list[PartitionLag] = []
    with consumer(bootstrap) as c:
        for group, offsets in committed.items():
            if not offsets:
                continue
            end = c.end_offsets(list(offsets))
            rows += [
                PartitionLag(group, tp.topic, tp.partition, meta.offset if meta else None, end[tp])
                for tp, meta in sorted(offsets.items())
            ]
    return rows
