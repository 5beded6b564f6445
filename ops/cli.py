"""``python -m ops topics | inspect | lag | status | dlq-replay | trace | reconcile | rebuild |
exporter``."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from contract.headers import DLQ_HEADERS
from contract.kafka import KafkaAccess
from contract.topics import dlq_topic
from ops.errors import Unreachable
from ops.rebuild_cli import cmd_rebuild
from ops.reconcile_cli import cmd_reconcile
from ops.trace_cli import cmd_trace

out = Console(highlight=False)


def _json(data: Any) -> None:
    print(json.dumps(data, default=str, indent=2))


def _when(text: str) -> datetime:
    """An ISO 8601 time; without a zone it is UTC."""
    when = datetime.fromisoformat(text)
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def cmd_topics(args: argparse.Namespace, bootstrap: KafkaAccess) -> int:
    from ops.topics import list_topics

    topics = list_topics(bootstrap)
    if args.json:
        _json([{**t.__dict__, "total": t.total} for t in topics])
        return 0
    table = Table("kind", "partitions", "messages per partition", "total", "retention")
    table.add_column("topic", no_wrap=True)
    for t in topics:
        per = " ".join(f"{p}:{n}" for p, n in sorted(t.messages.items()))
        days = (
            f"{t.retention_ms / 86_400_000:g} d"
            if t.retention_ms and t.retention_ms > 0
            else "forever"
        )
        table.add_row(
            t.kind,
            str(t.partitions),
            per if t.partitions <= 6 else "...",
            str(t.total),
            days,
            t.name,
        )
    out.print(table)
    return 0


def cmd_inspect(args: argparse.Namespace, bootstrap: KafkaAccess) -> int:
    from contract import AvroCodec, SchemaRepository
    from ops.inspect import messages

    codec = AvroCodec(SchemaRepository.load())
    try:
        for shown in messages(
            bootstrap,
            args.topic,
            codec,
            start=args.start,
            n=args.n,
            key=args.key,
            follow=args.follow,
        ):
            if args.json:
                print(json.dumps(shown.as_dict(), default=str), flush=True)
                continue
            out.print(
                f"[bold]{shown.topic}[{shown.partition}]@{shown.offset}[/] "
                f"{shown.timestamp} key={shown.key}"
            )
            plain = {k: v for k, v in shown.headers.items() if k not in DLQ_HEADERS}
            out.print(f"  headers {json.dumps(plain)}")
            if shown.dead_letter:
                d = shown.dead_letter
                out.print(
                    f"  [red]dead letter[/] from {d['origin']} by {d['handler']} at "
                    f"{d['failed_at']}: {d['reason']}"
                )
            if shown.event_type:
                out.print(
                    f"  {shown.event_type} v{shown.schema_version} {json.dumps(shown.fields)}"
                )
            elif shown.json_value is not None:
                out.print(f"  json {json.dumps(shown.json_value)}")
            else:
                out.print(f"  [yellow]undecodable[/] ({shown.reason}): {shown.undecodable_hex}")
    except KeyError as exc:
        print(f"error: {exc.args[0]}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    return 0


def cmd_lag(args: argparse.Namespace, bootstrap: KafkaAccess) -> int:
    from ops.lag import group_lag

    rows = group_lag(bootstrap, [args.group] if args.group else None)
    over = [r for r in rows if args.max_lag is not None and r.lag > args.max_lag]
    if args.json:
        _json(
            {
                "partitions": [{**r.__dict__, "lag": r.lag} for r in rows],
                "max_lag": args.max_lag,
                "over_threshold": len(over),
            }
        )
    else:
        table = Table("group", "topic", "partition", "committed", "end", "lag")
        for r in rows:
            style = "red" if r in over else ""
            table.add_row(
                r.group,
                r.topic,
                str(r.partition),
                str(r.committed),
                str(r.end),
                str(r.lag),
                style=style,
            )
        out.print(table)
        totals: dict[str, int] = {}
        for r in rows:
            totals[r.group] = totals.get(r.group, 0) + r.lag
        out.print("total lag: " + ", ".join(f"{g} {n}" for g, n in sorted(totals.items())))
    if over:
        print(f"lag above {args.max_lag} on {len(over)} partition(s)", file=sys.stderr)
        return 1
    return 0


def cmd_status(args: argparse.Namespace, bootstrap: KafkaAccess) -> int:
    from ops.status import collect
    from stack.settings import StackSettings

    status = collect(
        Path.cwd(), StackSettings(), warn_bytes=args.wal_warn_bytes, compose=args.compose
    )
    if args.json:
        _json({**status.__dict__, "healthy": status.healthy})
        return 0 if status.healthy else 1
    table = Table("part", "state", "pid", "where")
    for p in status.parts:
        state = "[green]healthy[/]" if p["healthy"] else f"[red]{p['reason']}[/]"
        table.add_row(p["name"], state, str(p["pid"] or "-"), p["where"])
    out.print(table)
    for c in status.connectors:
        tasks = ", ".join(f"task {t['id']} {t['state']}" for t in c["tasks"]) or "no tasks"
        out.print(f"connector {c['name']}: {c['state']}, {tasks}")
        for t in c["tasks"]:
            if "trace" in t:
                out.print(f"[red]{t['trace']}[/]")
    for s in status.slots:
        out.print(
            f"slot {s['slot_name']} ({s['plugin']}): "
            f"{'active' if s['active'] else '[red]inactive[/]'}, confirmed_flush_lsn "
            f"{s['confirmed_flush_lsn']}, WAL retained {s['retained_bytes']:,} bytes, "
            f"unconfirmed {s['behind_bytes']:,} bytes"
        )
    if status.consumer_health:
        live, ready = status.consumer_health["live"], status.consumer_health["ready"]
        out.print(
            f"consumers: {'live' if live.get('ok') else '[red]not live[/]'} "
            f"({live.get('processes', 0)} processes), "
            f"{'ready' if ready.get('ok') else '[yellow]not ready[/]'} "
            f"{ready.get('ready_processes', '')}"
        )
    for w in status.warnings:
        out.print(f"[yellow]warning: {w}[/]")
    for problem in status.problems:
        out.print(f"[red]problem: {problem}[/]")
    return 0 if status.healthy else 1


def cmd_replay(args: argparse.Namespace, bootstrap: KafkaAccess) -> int:
    from consumers.settings import ConsumerSettings
    from ops.replay import finished, replay

    ids = {i.strip() for i in args.ids.split(",") if i.strip()} if args.ids else None
    stats = replay(ConsumerSettings(), args.group, ids=ids)
    complete = finished(stats)
    if args.json:
        _json({**stats, "finished": complete})
    else:
        out.print(
            f"replayed {dlq_topic(args.group)}: handled {stats['handled']}, already handled "
            f"{stats['duplicate']}, dead-lettered again {stats['dead_lettered']}, "
            f"not selected {stats['ignored']}"
        )
        if not complete:
            from consumers.runtime.message import Outcome

            done = Outcome.settled(stats)
            out.print(
                f"error: replay did not finish: {done} of {stats['todo']} dead letters got an "
                "outcome before the deadline; run it again (nothing is lost: progress is kept)"
            )
    return 1 if stats["dead_lettered"] or not complete else 0


def main(argv: list[str] | None = None) -> int:
    from stack.settings import StackSettings

    parser = argparse.ArgumentParser(prog="python -m ops", description=__doc__)
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    sub = parser.add_subparsers(dest="verb", required=True)
    sub.add_parser("topics", help="topics, partitions, message counts, retention")
    ins = sub.add_parser("inspect", help="decoded messages of a topic")
    ins.add_argument("topic")
    ins.add_argument(
        "--from",
        dest="start",
        default="beginning",
        help="beginning | latest | <offset> | <ISO time or epoch ms>",
    )
    ins.add_argument("-n", type=int, default=20)
    ins.add_argument("--key")
    ins.add_argument("--follow", action="store_true")
    lag = sub.add_parser("lag", help="committed offset, end offset and lag per group")
    lag.add_argument("--group")
    lag.add_argument(
        "--max-lag", type=int, default=None, help="exit 1 when a partition's lag is above this"
    )
    st = sub.add_parser("status", help="processes, connector, replication slot")
    st.add_argument("--wal-warn-bytes", type=int, default=256 * 1024 * 1024)
    st.add_argument("--compose", action="store_true", help="the compose stack's containers")
    rp = sub.add_parser("dlq-replay", help="run a group's dead letters through it again")
    rp.add_argument("group")
    rp.add_argument("--ids", help="comma-separated event ids; default: every new dead letter")
    rc = sub.add_parser("reconcile", help="read models against the orders table; 1 on drift")
    rc.add_argument("--group")
    rb = sub.add_parser("rebuild", help="empty a group's read model and run it again from Kafka")
    rb.add_argument("group")
    rb.add_argument("--force", action="store_true", help="even if Kafka dropped older events")
    rb.add_argument("--wait", type=float, default=900, help="seconds to wait for it (0: none)")
    rb.add_argument(
        "--since", type=_when, help="start at this time (ISO 8601) instead of the earliest"
    )
    tr = sub.add_parser("trace", help="every hop of an order's events, with its time")
    tr.add_argument("id", help="an order id, event id, Idempotency-Key or trace id")
    ex = sub.add_parser("exporter", help="Prometheus metrics: replication slot, broker-side lag")
    ex.add_argument("--host", default="127.0.0.1")
    ex.add_argument("--port", type=int, default=None, help="default: EXPORTER_PORT (9406)")
    for p in sub.choices.values():
        p.add_argument("--json", action="store_true", default=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.verb == "exporter":  # a long-running part with its own, least, privileges
        from ops.exporter import serve

        settings = StackSettings()
        serve(
            args.host,
            args.port or settings.exporter_port,
            settings.monitor_dsn(),
            settings.kafka_as("monitor"),
        )
        return 0
    bootstrap = StackSettings().kafka_as("admin")
    handlers = {
        "topics": cmd_topics,
        "inspect": cmd_inspect,
        "lag": cmd_lag,
        "status": cmd_status,
        "dlq-replay": cmd_replay,
        "trace": cmd_trace,
        "reconcile": cmd_reconcile,
        "rebuild": cmd_rebuild,
    }
    try:
        return handlers[args.verb](args, bootstrap)
    except Unreachable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
