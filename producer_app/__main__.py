"""``python -m producer_app migrate|serve``: settings are built here and passed down."""

from __future__ import annotations

import argparse
import sys

from producer_app.settings import ProducerSettings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m producer_app")
    sub = parser.add_subparsers(dest="verb", required=True)
    sub.add_parser("migrate", help="apply database migrations")
    args = parser.parse_args(argv)
    settings = ProducerSettings()
    if args.verb == "migrate":
        from producer_app.migrate import upgrade

        upgrade(settings)
        print("producer_app migrations at head")
    return 0


if __name__ == "__main__":
    sys.exit(main())
