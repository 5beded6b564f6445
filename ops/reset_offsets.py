"""``make reset-offsets GROUP= TO=earliest|latest|<time>|<offset> [APPLY=1] [FORCE=1]``: move
a consumer group's committed offsets on the event topic, as ``kafka-consumer-groups
--reset-offsets`` does, with ``rebuild``'s refusals and a dry run by default.

The dry run shows, per partition, where the group is, where it would go and what that means:
moving back re-reads events, which the group skips as duplicates (its ``processed_events``
marks), so nothing is applied twice; moving forward skips events the group has not handled,
which it then never applies (said in the plan, never silently). ``APPLY=1`` does it: this
stack's consumers are stopped for the few seconds it takes and started again (as ``make
rebuild`` does). It refuses, changing nothing:

- while the group has a member this command does not stop (another host runs it; on the
  compose stack, stop the consumers service first);
- when the target is before what Kafka still holds (retention deleted it): the group would
  start later than asked and the events between are gone; ``FORCE=1`` starts at what is left.

An offset past a partition's end is a bad argument.
"""

from __future__ import annotations

import argparse
import json
import sys
from contextlib import redirect_stdout
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from kafka import KafkaConsumer, TopicPartition

from consumers.settings import ConsumerSettings
from contract.cli import BadArgument, when
from ops.kafka_io import admin, consumer, partitions
from ops.rebuild import Refused, members_of
from ops.tables import console, legend, table

out = console()


@dataclass(frozen=True)
class Move:
    partition: int
    committed: int | None
    target: int
    begin: int
    end: int

    @property
    def effect(self) -> str:
        now = self.committed if self.committed is not None else self.begin
        if self.target < now:
            return f"re-reads {now - self.target}"
        if self.target > now:
            return f"SKIPS {self.target - now}"
        return "stays"


def targets(
    c: KafkaConsumer, tps: list[TopicPartition], to: str, *, force: bool
) -> tuple[dict[TopicPartition, int], dict[TopicPartition, int], dict[TopicPartition, int]]:
    """(target, begin, end) per partition; raises for a target past the end (a bad argument)
    or before what Kafka holds (``Refused``, unless ``force``: then the start of what is left)."""
    begin, end = c.beginning_offsets(tps), c.end_offsets(tps)
    if to == "earliest":
        return dict(begin), begin, end
    if to == "latest":
        return dict(end), begin, end
    if to.isdigit():
        wanted = int(to)
        past = [f"{tp.partition} (end {end[tp]})" for tp in tps if wanted > end[tp]]
        if past:
            raise BadArgument(f"TO={wanted} is past the end of partition {', '.join(past)}")
        gone = [tp for tp in tps if wanted < begin[tp]]
        target = {tp: max(wanted, begin[tp]) for tp in tps}
    else:
        ms = int(when(to).timestamp() * 1000)
        found = c.offsets_for_times(dict.fromkeys(tps, ms))
        target = {tp: found[tp].offset if found.get(tp) else end[tp] for tp in tps}
        # The first offset at or after the time is the first Kafka holds: older ones, possibly
        # after the time too, may have been deleted (as rebuild SINCE=).
        gone = [tp for tp in tps if begin[tp] > 0 and target[tp] == begin[tp]]
    if gone and not force:
        where = ", ".join(f"partition {tp.partition} starts at {begin[tp]}" for tp in gone)
        raise Refused(
            f"TO={to} asks for events Kafka no longer holds ({where}); nothing was changed. "
            "FORCE=1 starts at what is left"
        )
    return target, begin, end


def plan(settings: ConsumerSettings, group: str, to: str, *, force: bool) -> list[Move]:
    access = settings.kafka_for(group)
    with consumer(access) as c:
        tps = partitions(c, settings.topic)
        target, begin, end = targets(c, tps, to, force=force)
    with admin(access) as a:
        committed = a.list_group_offsets(group).get(group, {})
    return [
        Move(
            tp.partition,
            committed[tp].offset if committed.get(tp) else None,
            target[tp],
            begin[tp],
            end[tp],
        )
        for tp in tps
    ]


def apply(settings: ConsumerSettings, group: str, moves: list[Move]) -> None:
    access = settings.kafka_for(group)
    wanted = {TopicPartition(settings.topic, m.partition): m.target for m in moves}
    with admin(access) as a:  # a copy: kafka-python empties the dict it is given
        answer = a.reset_group_offsets(group, dict(wanted))
    failed = {tp.partition: r["error"] for tp, r in answer.items() if r["error"].errno != 0}
    if failed or len(answer) != len(wanted):
        raise Refused(f"Kafka refused to reset {group}'s offsets ({failed or 'some missing'})")


def cmd_reset_offsets(args: argparse.Namespace, _: Any) -> int:
    from ops.rebuild_cli import local_consumers_stopped, local_member, wait_until_left

    settings = ConsumerSettings()
    ours = local_member(Path.cwd())
    try:
        foreign = [m for m in members_of(settings, args.group) if not ours(m)]
        if foreign:
            raise Refused(
                f"{args.group} has live member(s) this command does not stop "
                f"({', '.join(foreign)}): stop them first (compose: docker compose stop "
                "consumers); nothing was changed"
            )
        moves = plan(settings, args.group, args.to, force=args.force)
        if args.apply:  # its progress lines to stderr: stdout is the answer (JSON=1)
            with redirect_stdout(sys.stderr), local_consumers_stopped(Path.cwd()):
                wait_until_left(settings, args.group, settings.session_timeout_ms / 1000 + 5)
                moves = plan(settings, args.group, args.to, force=args.force)
                apply(settings, args.group, moves)
    except Refused as exc:
        print(f"error: refused: {exc}")
        return 2
    show(args, moves)
    return 0


def show(args: argparse.Namespace, moves: list[Move]) -> None:
    if args.json:
        rows = [{**asdict(m), "effect": m.effect} for m in moves]
        print(
            json.dumps(
                {
                    "group": args.group,
                    "to": args.to,
                    "applied": args.apply,
                    "at": datetime.now().astimezone().isoformat(),
                    "partitions": rows,
                },
                indent=2,
            )
        )
        return
    rows_ = table("partition", "committed", "new", "kept from", "end", "effect")
    for m in moves:
        rows_.add_row(
            str(m.partition),
            "-" if m.committed is None else str(m.committed),
            str(m.target),
            str(m.begin),
            str(m.end),
            m.effect,
        )
    out.print(rows_)
    legend(
        out,
        {
            "re-reads": "events handled before, skipped as duplicates",
            "SKIPS": "events the group has not handled and never will",
            "kept from": "the first offset Kafka still holds",
        },
    )
    if args.apply:
        out.print(f"{args.group}: offsets reset to {args.to}")
    else:
        out.print(f"dry run: nothing changed; APPLY=1 resets {args.group} to {args.to}")
