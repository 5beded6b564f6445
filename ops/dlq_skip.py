"""``make dlq-skip GROUP= IDS= REASON=``: settle dead letters without applying them, when an
operator decided that an event must not take effect for a group (a notification that would
go out weeks late, an event the business voided), with who decided and why on record.

Each id must be a dead letter of the group still waiting (its ``processed_events`` mark says
``dead_lettered``); otherwise nothing changes and the verb names the ids. In one transaction
the marks become ``skipped`` (so no redelivery and no later ``make dlq-replay`` runs them:
a replay revives only ``dead_lettered`` marks) and ``consumers.dead_letter_skips`` records
who (the operating-system user and host, the one behind ``sudo`` too), why and when.
``make trace`` shows it. The dead letter itself stays on ``dlq.<group>`` for its retention.

Separate from the replay's code on purpose: it applies nothing and needs no handler.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import socket
import uuid
from typing import Any

import psycopg

from consumers.settings import ConsumerSettings
from contract.cli import BadArgument
from contract.kafka import KafkaAccess
from ops.tables import console, table

out = console()

MARKS = """
    SELECT p.event_id, p.outcome, p.source, s.skipped_by, s.reason
    FROM consumers.processed_events p
    LEFT JOIN consumers.dead_letter_skips s USING (consumer_group, event_id)
    WHERE p.consumer_group = %s AND p.event_id = ANY(%s)
"""
SKIP = """
    UPDATE consumers.processed_events SET outcome = 'skipped'
    WHERE consumer_group = %s AND event_id = ANY(%s) AND outcome = 'dead_lettered'
"""
RECORD = """
    INSERT INTO consumers.dead_letter_skips (consumer_group, event_id, skipped_by, reason)
    SELECT %s, unnest(%s::uuid[]), %s, %s
    RETURNING event_id, skipped_at
"""


def operator() -> str:
    """Who runs this: the login behind ``sudo`` when there is one, and the host."""
    user = getpass.getuser()
    behind = os.environ.get("SUDO_USER")
    who = f"{behind} (as {user})" if behind and behind != user else user
    return f"{who}@{socket.gethostname()}"


def refusals(group: str, ids: list[uuid.UUID], marks: dict[uuid.UUID, tuple[Any, ...]]) -> str:
    """Why some ids cannot be skipped ('' when all can)."""
    problems = []
    for i in ids:
        found = marks.get(i)
        if found is None:
            problems.append(f"{i} is no dead letter of {group}")
        elif found[0] == "skipped":
            problems.append(f"{i} was skipped already by {found[2]}: {found[3]}")
        elif found[0] != "dead_lettered":
            problems.append(f"{i} was {found[0]} by {group} (nothing to settle)")
    return "; ".join(problems)


def skip(conninfo: str, group: str, ids: list[uuid.UUID], who: str, why: str) -> list[Any]:
    """Settle ``ids`` in one transaction; raises ``BadArgument`` (changing nothing) unless
    every one is a waiting dead letter of ``group``."""
    with psycopg.connect(conninfo, connect_timeout=5) as conn, conn.transaction():
        rows = conn.execute(MARKS + " FOR UPDATE OF p", (group, ids)).fetchall()
        why_not = refusals(group, ids, {r[0]: r[1:] for r in rows})
        if why_not:
            raise BadArgument(f"IDS: {why_not}; nothing was skipped")
        conn.execute(SKIP, (group, ids))
        return conn.execute(RECORD, (group, ids, who, why)).fetchall()


def cmd_dlq_skip(args: argparse.Namespace, _: KafkaAccess) -> int:
    who = operator()
    # As the group's own role: it settles only that group's dead letters (row-level policy).
    done = skip(ConsumerSettings().conninfo(args.group), args.group, args.ids, who, args.reason)
    if args.json:
        rows = [{"event_id": str(i), "skipped_at": at.isoformat()} for i, at in done]
        print(
            json.dumps(
                {"group": args.group, "skipped_by": who, "reason": args.reason, "skipped": rows},
                indent=2,
            )
        )
        return 0
    rows_ = table("event id", "skipped at")
    for event_id, at in done:
        rows_.add_row(str(event_id), at.isoformat(timespec="seconds"))
    out.print(rows_)
    out.print(
        f"{len(done)} dead letter(s) of {args.group} settled without applying them, "
        f"by {who}: {args.reason} (make trace shows it)"
    )
    return 0
