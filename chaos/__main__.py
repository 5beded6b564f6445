"""``python -m chaos [--orders N] [--clients N] [--faults a,b] [--seed N]`` (``make chaos``).

The kinds are the topology's (``STACK_TOPOLOGY``, make's ``TOPOLOGY``): the single broker's,
or the HA topology's failover kinds (``chaos.quorum.FAILOVER``)."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path

from chaos.run import kinds, run
from contract.cli import count, parser_for
from stack.settings import StackSettings

TOPOLOGY = StackSettings().stack_topology
FAULTS = kinds(TOPOLOGY)
HA = TOPOLOGY == "ha"

parser = parser_for({"--orders": "CHAOS_ORDERS"})(prog="python -m chaos")
parser.add_argument("--orders", type=count(1, 10_000_000), default=10_000)
parser.add_argument("--clients", type=int, default=8)
parser.add_argument(
    "--faults", default=",".join(FAULTS), help=f"comma-separated, from: {', '.join(FAULTS)}"
)
parser.add_argument("--seed", type=int, default=7)
parser.add_argument(
    "--pause",
    type=float,
    nargs=2,
    default=(5.0, 15.0),
    metavar=("MIN", "MAX"),
    help="seconds between faults",
)
parser.add_argument(
    "--spread",
    type=float,
    # The failover kinds take longer (a rolling restart of five JVMs): the orders are spread
    # so that the faults meet them.
    default=660.0 if HA else 450.0,
    help="seconds over which the clients spread their orders (the faults take about as long)",
)
parser.add_argument(
    "--hold", type=float, default=15.0, help="seconds a lasting fault (partition, stop) is held"
)
parser.add_argument("--out", type=Path, default=Path("chaos/results"))
args = parser.parse_args()
names = [f.strip() for f in args.faults.split(",") if f.strip()]
unknown = [n for n in names if n not in FAULTS]
if unknown:
    sys.exit(f"unknown fault(s): {unknown}; choose from {list(FAULTS)}")
report = run(
    Path.cwd(),
    orders=args.orders,
    clients=args.clients,
    fault_names=names,
    seed=args.seed,
    pause=tuple(args.pause),
    spread=args.spread,
    hold=args.hold,
)
args.out.mkdir(parents=True, exist_ok=True)
(args.out / "report.md").write_text(report.markdown())
summary = {
    "passed": report.passed,
    "result": report.result,
    "pipeline_ok": report.pipeline_ok,
    "harness_ok": report.harness_ok,
    "lost": report.verdict.lost + report.orders_told_but_missing,
    "doubled": report.verdict.doubled + report.keys_with_two_orders,
    "not_injected": report.not_injected,
}
(args.out / "report.json").write_text(
    json.dumps({**summary, **asdict(report)}, indent=2, default=str)
)
print(report.markdown())
sys.exit(0 if report.passed else 1)
