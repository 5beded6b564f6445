"""``make reconcile [GROUP=] [JSON=1]``: the read models against the orders table; exit 1 on
drift, for cron and alerts."""

from __future__ import annotations

import argparse
import json

import psycopg
from rich.console import Console
from rich.table import Table

from contract.kafka import KafkaAccess
from ops.lag import group_lag
from ops.reconcile import reconcile

out = Console(highlight=False)


def cmd_reconcile(args: argparse.Namespace, bootstrap: KafkaAccess) -> int:
    from consumers.handlers import REGISTRY
    from stack.settings import StackSettings

    groups = [args.group] if args.group else sorted(REGISTRY)
    behind: dict[str, int] = dict.fromkeys(groups, 0)
    for row in group_lag(bootstrap, groups):
        behind[row.group] += row.lag
    with psycopg.connect(StackSettings().admin_dsn(), connect_timeout=5) as conn:
        found = reconcile(conn, groups)
    if args.json:
        print(
            json.dumps(
                {
                    "groups": {g: {"lag": behind[g]} for g in groups},
                    "differences": [d.__dict__ for d in found],
                    "drift": bool(found),
                },
                indent=2,
            )
        )
        return 1 if found else 0
    for g in groups:
        state = "caught up" if behind[g] == 0 else f"[yellow]{behind[g]} events behind[/]"
        out.print(f"{g:<18} {state}")
    if not found:
        out.print("[green]no drift[/]: every read model is what the orders table implies")
        return 0
    table = Table("group", "check", "differences", "examples")
    for d in found:
        table.add_row(d.group, d.check, str(d.count), ", ".join(d.examples))
    out.print(table)
    if any(behind[d.group] for d in found):
        out.print("a group behind may still apply what it lacks: run again once it caught up")
    return 1
