"""``python -m bench [--quick] [--out DIR]`` (see ``bench.run``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bench.report import markdown, write
from bench.run import run

parser = argparse.ArgumentParser(prog="python -m bench")
parser.add_argument("--quick", action="store_true", help="seconds, not minutes (tests use it)")
parser.add_argument("--out", type=Path, default=Path("bench/results/latest"))
args = parser.parse_args()
result = run(args.quick, args.out, say=lambda s: None)
for path in write(result, args.out):
    print(f"wrote {path}")
print(markdown(result))
sys.exit(0)
