"""``python -m contract check-schemas``: list schemas and fail on any incompatible pair."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from contract.compat import incompatibilities
from contract.schemas import SchemaRepository


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m contract")
    sub = parser.add_subparsers(dest="verb", required=True)
    check = sub.add_parser("check-schemas", help="FULL_TRANSITIVE compatibility of schemas/")
    check.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args(argv)
    repository = SchemaRepository.load(args.dir)
    for version in repository:
        print(
            f"{version.label:<20} {version.full_name:<40} "
            f"fingerprint {version.fingerprint_bytes.hex()}"
        )
    problems = incompatibilities(repository)
    for problem in problems:
        print(f"INCOMPATIBLE {problem}", file=sys.stderr)
    if problems:
        return 1
    print("schemas   every version reads every other (FULL_TRANSITIVE)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
