"""The consumers CLI: ``python -m consumers migrate | list | run HANDLER | run-all``.

Settings are built here and passed down. ``run`` handles SIGTERM/SIGINT gracefully: the
current batch finishes, its offsets are committed, and the instance leaves its group.
"""

from __future__ import annotations

import argparse
import multiprocessing
import signal
from types import FrameType

from consumers.settings import ConsumerSettings


def run_one(name: str, duplicate: bool = False) -> None:
    from consumers.bootstrap import bootstrap
    from consumers.handlers import REGISTRY
    from consumers.runtime.logs import configure

    configure()
    running = bootstrap(ConsumerSettings(), REGISTRY[name], duplicate=duplicate)

    def stop(signum: int, frame: FrameType | None) -> None:
        running.processor.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        running.processor.run()
    finally:
        running.close()


def supervise(names: list[str], instances: int, duplicate: bool) -> int:
    """One process per (handler, instance); SIGTERM/SIGINT is passed on to all of them."""
    ctx = multiprocessing.get_context("spawn")
    procs = [
        ctx.Process(target=run_one, args=(name, duplicate), name=f"{name}-{i}")
        for name in names
        for i in range(instances)
    ]
    for p in procs:
        p.start()

    def forward(signum: int, frame: FrameType | None) -> None:
        for p in procs:
            if p.pid is not None and p.is_alive():
                p.terminate()

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    for p in procs:
        p.join()
    return max((p.exitcode or 0) for p in procs)


def main(argv: list[str] | None = None) -> int:
    from consumers.handlers import REGISTRY

    parser = argparse.ArgumentParser(prog="python -m consumers")
    sub = parser.add_subparsers(dest="verb", required=True)
    sub.add_parser("migrate", help="apply the consumers' database migrations")
    sub.add_parser("list", help="registered handlers (= consumer groups)")
    run = sub.add_parser("run", help="run one handler's consumer group")
    run.add_argument("handler", choices=sorted(REGISTRY))
    run_all = sub.add_parser("run-all", help="run every handler")
    for p in (run, run_all):
        p.add_argument("--instances", type=int, default=1, help="processes sharing the group")
        p.add_argument(
            "--duplicate",
            action="store_true",
            help="handle every message twice (proves idempotency; for demos)",
        )
    args = parser.parse_args(argv)

    if args.verb == "migrate":
        from consumers.migrate import upgrade

        upgrade(ConsumerSettings())
        print("consumers migrations at head")
        return 0
    if args.verb == "list":
        for name, reg in sorted(REGISTRY.items()):
            print(f"{name:<18} group={name:<18} events={','.join(sorted(reg.event_types))}")
        return 0
    names = [args.handler] if args.verb == "run" else sorted(REGISTRY)
    if len(names) == 1 and args.instances == 1:
        run_one(names[0], args.duplicate)
        return 0
    return supervise(names, args.instances, args.duplicate)
