"""The chaos checker: sets, not counts. A count can match while the wrong events are there
(one lost, another doubled); a set cannot.

- the orders table (Postgres, the source of truth) implies one ``OrderPlaced`` per order of
  the run and one ``OrderCancelled`` per cancelled one: those (order, type) pairs must be on
  the topic, each under exactly one event id, and nothing else for the run's orders;
- each group's ``processed_events`` must hold every one of those event ids as handled (its
  primary key makes it at most once), and none as dead-lettered;
- each group's dead-letter topic must hold exactly the positions the run injected as poison;
- the read models must equal what the orders table implies (``chaos.checks.VIOLATIONS``).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import psycopg

from chaos.checks import DEAD_MARKED_OF, HANDLED_OF, RUN_ORDERS
from chaos.faults import Position
from contract import headers as h


@dataclass
class GroupVerdict:
    not_handled: int = 0  # events of the run the group never applied (lost)
    dead_marked: int = 0  # real events dead-lettered (must be 0)
    poison_missing: int = 0  # injected poison the group did not dead-letter
    unexpected_dead: int = 0  # dead letters that were not injected poison
    dead_letter_copies: int = 0  # the same poison dead-lettered twice (at least once: allowed)
    dead_lettered: int = 0


@dataclass
class Verdict:
    run_orders: int = 0
    expected_events: int = 0
    missing_on_topic: int = 0
    unexpected_on_topic: int = 0
    pairs_with_two_ids: int = 0
    topic_duplicates: int = 0  # the same event id more than once (Debezium: at least once)
    groups: dict[str, GroupVerdict] = field(default_factory=dict)

    @property
    def lost(self) -> int:
        return self.missing_on_topic + sum(g.not_handled for g in self.groups.values())

    @property
    def doubled(self) -> int:
        return self.pairs_with_two_ids + self.unexpected_on_topic

    @property
    def holds(self) -> bool:
        return (
            self.run_orders > 0
            and self.lost == 0
            and self.doubled == 0
            and all(
                g.dead_marked == g.poison_missing == g.unexpected_dead == 0
                for g in self.groups.values()
            )
        )


def judge(
    dsn: str,
    orders_before: list[uuid.UUID],
    topic_messages: list[Any],
    dead_letters: dict[str, list[Any]],
    poison: set[Position],
) -> Verdict:
    v = Verdict()
    with psycopg.connect(dsn, autocommit=True) as conn:
        orders = conn.execute(RUN_ORDERS, (orders_before,)).fetchall()
        expected = {(str(o), "OrderPlaced") for o, _ in orders}
        expected |= {(str(o), "OrderCancelled") for o, status in orders if status == "cancelled"}
        run_orders = {str(o) for o, _ in orders}
        ids_of: dict[tuple[str, str], set[str]] = defaultdict(set)
        seen: list[str] = []
        for m in topic_messages:
            headers = {k: (val or b"").decode() for k, val in m.headers or ()}
            key = (m.key or b"").decode()
            if "id" not in headers or key not in run_orders:
                continue
            ids_of[(key, headers.get("event_type", ""))].add(headers["id"])
            seen.append(headers["id"])
        v.run_orders, v.expected_events = len(orders), len(expected)
        v.missing_on_topic = len(expected - set(ids_of))
        v.unexpected_on_topic = len(set(ids_of) - expected)
        v.pairs_with_two_ids = sum(1 for ids in ids_of.values() if len(ids) > 1)
        v.topic_duplicates = len(seen) - len(set(seen))
        events = sorted({i for pair in expected & set(ids_of) for i in ids_of[pair]})
        for group, letters in dead_letters.items():
            handled = {str(r[0]) for r in conn.execute(HANDLED_OF, (group, events))}
            dead = {str(r[0]) for r in conn.execute(DEAD_MARKED_OF, (group, events))}
            origins = [_origin(m) for m in letters]
            v.groups[group] = GroupVerdict(
                not_handled=len(set(events) - handled),
                dead_marked=len(dead),
                poison_missing=len(poison - set(origins)),
                unexpected_dead=len(set(origins) - poison),
                dead_letter_copies=len(origins) - len(set(origins)),
                dead_lettered=len(set(origins)),
            )
    return v


def _origin(m: Any) -> Position:
    got = {k: (val or b"").decode() for k, val in m.headers or ()}
    return (
        got.get(h.DLQ_TOPIC, ""),
        int(got.get(h.DLQ_PARTITION, -1)),
        int(got.get(h.DLQ_OFFSET, -1)),
    )
