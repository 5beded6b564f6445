"""``python -m ops VERB``: the verbs (``ops.parser`` lists them), each run from a module imported
only when it runs, so a bad argument is answered before anything heavy loads. The three
shortest tables (topics, lag, status) are printed here; every other verb has a module of its
own (``HANDLERS``)."""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from contract.cli import BadArgument
from contract.kafka import KafkaAccess
from ops.errors import Refused, Unreachable
from ops.parser import build
from ops.tables import console, legend, table

out = console()


def _json(data: Any) -> None:
    print(json.dumps(data, default=str, indent=2))


def cmd_topics(args: argparse.Namespace, bootstrap: KafkaAccess) -> int:
    from ops.topics import list_topics

    topics = list_topics(bootstrap)
    if args.json:
        _json([{**t.__dict__, "total": t.total, "retention": t.retention} for t in topics])
        return 0
    shown = table("topic", "kind", "messages", "per partition", "retention", "cleanup")
    for t in topics:
        per = " ".join(str(n) for _, n in sorted(t.messages.items()))
        shown.add_row(
            t.name,
            t.kind.removesuffix(" internal"),
            f"{t.total:,}",
            per if t.partitions <= 6 else f"{t.partitions} partitions",
            t.retention,
            t.cleanup_policy.replace(",", " "),
        )
    out.print(shown)
    legend(out, {"per partition": "messages in partition 0, 1, ... (JSON=1 for more)"})
    return 0


def cmd_lag(args: argparse.Namespace, bootstrap: KafkaAccess) -> int:
    from ops.lag import group_lag

    rows = group_lag(bootstrap, [args.group] if args.group else None)
    if args.group and not rows:
        from ops.groups import describe

        describe(bootstrap, args.group)  # raises BadArgument naming it when there is none
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
        lags = table("group", "topic", "partition", "committed", "end", "lag")
        for r in rows:
            style = "red" if r in over else ""
            lags.add_row(
                r.group,
                r.topic,
                str(r.partition),
                str(r.committed),
                str(r.end),
                str(r.lag),
                style=style,
            )
        out.print(lags)
        totals: dict[str, int] = {}
        for r in rows:
            totals[r.group] = totals.get(r.group, 0) + r.lag
        out.print("total lag: " + ", ".join(f"{g} {n}" for g, n in sorted(totals.items())))
    if over:
        print(f"lag above {args.max_lag} on {len(over)} partition(s)", file=sys.stderr)
        return 1
    return 0


def cmd_status(args: argparse.Namespace, bootstrap: KafkaAccess) -> int:
    from ops import cluster
    from ops.status import collect
    from stack.settings import StackSettings

    status = collect(
        Path.cwd(), StackSettings(), warn_bytes=args.wal_warn_bytes, compose=args.compose
    )
    if args.json:
        _json({**status.__dict__, "cluster": status.cluster.__dict__, "healthy": status.healthy})
        return 0 if status.healthy else 1
    parts = table("part", "state", "pid", "where")
    for p in status.parts:
        state = "[green]healthy[/]" if p["healthy"] else f"[red]{p['reason']}[/]"
        parts.add_row(p["name"], state, str(p["pid"] or "-"), p["where"])
    out.print(parts)
    for c in status.connectors:
        tasks = (
            ", ".join(
                f"task {t['id']} {t['state']}" + (f" on {t['worker']}" if t.get("worker") else "")
                for t in c["tasks"]
            )
            or "no tasks"
        )
        out.print(f"connector {c['name']}: {c['state']}, {tasks}")
        for t in c["tasks"]:
            if "trace" in t:
                out.print(f"[red]{t['trace']}[/]")
    for s in status.slots:
        owner = "" if s["connector"] else ", [red]not a connector's[/]"
        out.print(
            f"slot {s['slot_name']} ({s['plugin'] or s['slot_type']}{owner}): "
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
    if status.groups:
        out.print(
            "groups: "
            + ", ".join(
                f"{g['group']} {g['state']} ({g['members']} member{'s' * (g['members'] != 1)})"
                for g in status.groups
            )
        )
    for line in cluster.summary(status.cluster):
        out.print(line)
    for w in status.warnings:
        out.print(f"[yellow]warning: {w}[/]")
    for problem in status.problems:
        out.print(f"[red]problem: {problem}[/]")
    return 0 if status.healthy else 1


Verb = Callable[[argparse.Namespace, KafkaAccess], int]
HANDLERS = {
    "topics": "ops.cli:cmd_topics",
    "inspect": "ops.inspect_cli:cmd_inspect",
    "lag": "ops.cli:cmd_lag",
    "status": "ops.cli:cmd_status",
    "dlq-replay": "ops.replay_cli:cmd_replay",
    "trace": "ops.trace_cli:cmd_trace",
    "reconcile": "ops.reconcile_cli:cmd_reconcile",
    "rebuild": "ops.rebuild_cli:cmd_rebuild",
    "connector": "ops.connector:cmd_connector",
    "groups": "ops.groups:cmd_groups",
    "reset-offsets": "ops.reset_offsets:cmd_reset_offsets",
    "acls": "ops.acls:cmd_acls",
    "psql": "ops.psql:cmd_psql",
    "dlq-skip": "ops.dlq_skip:cmd_dlq_skip",
    "schemas": "ops.schemas:cmd_schemas",
}


def handler(verb: str) -> Verb:
    module, name = HANDLERS[verb].split(":")
    found: Verb = getattr(importlib.import_module(module), name)
    return found


def main(argv: list[str] | None = None) -> int:
    args = build().parse_args(argv)  # first: a bad argument is answered before any import

    import psycopg

    from stack.health import StackError
    from stack.settings import StackSettings

    try:
        if args.verb == "exporter":  # a long-running part with its own, least, privileges
            from ops.exporter import ExporterSettings, serve

            settings = ExporterSettings()
            serve(args.host, args.port or settings.exporter_port, settings.dsn(), settings.kafka())
            return 0
        return handler(args.verb)(args, StackSettings().kafka_as("admin"))
    except (Unreachable, Refused, StackError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except BadArgument as exc:
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    except psycopg.OperationalError as exc:
        where = StackSettings()
        print(
            f"error: Postgres is not reachable at {where.postgres_host}:{where.postgres_port}: "
            f"{str(exc).strip().splitlines()[0] if str(exc).strip() else exc!r}",
            file=sys.stderr,
        )
        return 2
