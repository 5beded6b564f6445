"""``python -m bench [--quick] [--out DIR]`` (see ``bench.run``).

On the single topology every phase runs and the results go to ``bench/results/latest``; on the
HA topology the phases that depend on Kafka's topology run and go to ``bench/results/ha``. Each
run then prints the capacity and latency figures of both topologies side by side, from the
newest results of each (``bench.topologies``): an HA column, measured, not guessed."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from bench.report import markdown, write
from bench.run import run
from bench.topologies import topologies

RESULTS = Path("bench/results")
OUT = {"single": RESULTS / "latest", "ha": RESULTS / "ha"}

parser = argparse.ArgumentParser(prog="python -m bench")
parser.add_argument("--quick", action="store_true", help="seconds, not minutes (tests use it)")
parser.add_argument("--out", type=Path, help="default: bench/results/latest, ha in the HA topology")
args = parser.parse_args()
result = run(args.quick, args.out or OUT["single"], say=lambda s: None)
out = args.out or OUT[result["topology"]]
for path in write(result, out):
    print(f"wrote {path}")
print(markdown(result))
newest = {result["topology"]: result}
for name, folder in OUT.items():
    found = folder / "results.json"
    if name not in newest and found.exists():
        newest[name] = json.loads(found.read_text())
print("\n".join(topologies(newest)))
sys.exit(0)
