"""``make trace ID=...``: the hops of one order's events, as a table or JSON (``--json``)."""

from __future__ import annotations

import argparse
import json
from datetime import datetime

import psycopg

from contract.kafka import KafkaAccess
from ops.kafka_io import admin, consumer
from ops.tables import console, table
from ops.trace import Trace, trace

out = console()


def cmd_trace(args: argparse.Namespace, bootstrap: KafkaAccess) -> int:
    from consumers.handlers import REGISTRY
    from stack.settings import StackSettings

    settings = StackSettings()
    with (
        psycopg.connect(settings.admin_dsn(), connect_timeout=5) as conn,
        admin(bootstrap) as a,
        consumer(bootstrap) as c,
    ):
        found = trace(conn, a, c, sorted(REGISTRY), args.id)
    if args.json:
        print(json.dumps(found.as_dict(), indent=2))
    else:
        show(found)
    return 0 if found.events else 1


def show(found: Trace) -> None:
    day = found.events[0].kafka_at[:10] if found.events else ""
    out.print(
        f"order {found.order_id} (found by {found.found_by}): {len(found.events)} events {day}"
    )
    for e in found.events:
        out.print(f"\n[bold]{e.event_type}[/] {e.event_id}  traceparent {e.traceparent or '-'}")
        hops = table("hop", "where", "at", "latency")
        hops.add_row("committed", "Postgres", _clock(e.committed_at), "")
        hops.add_row(
            "published",
            f"outbox.event.order[{e.partition}]@{e.offset}",
            _clock(e.kafka_at),
            _latency(e.commit_to_kafka_ms, "after commit"),
        )
        for copy in e.republished:
            where = f"outbox.event.order[{copy.partition}]@{copy.offset}"
            hops.add_row("republished", where, _clock(copy.kafka_at), "same event id")
        for g in e.groups:
            if g.state == "pending":
                where = f"committed offset {g.committed_offset}"
                hops.add_row(f"[yellow]pending[/] {g.group}", where, "", "")
                continue
            state = {"handled": "handled", "skipped": "[yellow]skipped[/]"}.get(
                g.state, "[red]dead-lettered[/]"
            )
            where = g.group if g.reason is None else f"{g.group}: {_first_line(g.reason)}"
            if g.state == "skipped":
                where += f"; skipped by {g.skipped_by}: {g.skip_reason}"
            hops.add_row(state, where, _clock(g.at), _latency(g.after_kafka_ms, "after Kafka"))
        out.print(hops)


def _first_line(reason: str, limit: int = 160) -> str:
    """A dead letter's reason as a table shows it (JSON=1 has all of it)."""
    line = reason.replace("\\n", "\n").split("\n")[0]
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _clock(iso: str | None) -> str:
    """The time of day to the millisecond (the date is in --json); ? when unknown."""
    return datetime.fromisoformat(iso).strftime("%H:%M:%S.%f")[:-3] if iso else "?"


def _latency(ms: float | None, what: str) -> str:
    return "" if ms is None else f"{ms:,.0f} ms {what}"
