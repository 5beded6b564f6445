"""``make bench-eos``: the exactly-once figures (``bench.exactly_once``) off and on, as a table
in ``bench/results/exactly-once/`` and on the terminal."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import exactly_once


def _p(mode: dict[str, Any], key: str) -> str:
    def one(q: str) -> str:
        value = mode[key].get(q)
        return "-" if value is None else f"{value:,.0f}"

    return f"{one('p50')} / {one('p99')} ms"


ROWS: list[tuple[str, Callable[[dict[str, Any]], str]]] = [
    ("orders/s offered / committed", lambda m: f"{m['offered_per_s']:.0f} / {m['committed_per_s']:.0f}"),  # noqa: E501
    ("commit→Kafka p50 / p99 (record time)", lambda m: _p(m, "commit_to_kafka_ms")),
    ("commit→visible to read_committed p50 / p99", lambda m: _p(m, "commit_to_visible_ms")),
    ("commit→handled (last group) p50 / p99", lambda m: _p(m, "commit_to_handled_ms")),
    ("kill -9 of the task's worker: task running again", lambda m: f"{m['task_back_s']:.1f} s ({m['killed']})"),  # noqa: E501
    ("events re-published, as the consumers read them", lambda m: f"{m['republished']:,}"),
    ("extra copies in the log (aborted included)", lambda m: f"{m['copies_in_log']:,}"),
    ("backlog drain", lambda m: f"{m['drain_per_s']:,.0f} events/s"),
    ("load average (5 min) as the mode ended", lambda m: f"{m['load_average']:.1f}"),
]  # fmt: skip


def markdown(result: dict[str, Any]) -> str:
    """One column per mode."""
    off, on = result["modes"]
    lines = [
        f"Exactly-once source off and on ({result['topology']} topology)",
        "",
        "| measure | off | on |",
        "| --- | ---: | ---: |",
    ]
    lines += [f"| {name} | {cell(off)} | {cell(on)} |" for name, cell in ROWS]
    return "\n".join(lines) + "\n"


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="make bench-eos", description=exactly_once.__doc__)
    parser.add_argument("--rate", type=float, default=100.0, help="orders/s offered")
    parser.add_argument("--seconds", type=float, default=60.0, help="of each loaded phase")
    parser.add_argument("--backlog", type=int, default=3000, help="orders of the drain phase")
    parser.add_argument("--out", type=Path, default=Path("bench/results/exactly-once"))
    args = parser.parse_args(argv)
    for name, value in (("--rate", args.rate), ("--seconds", args.seconds)):
        if not 0 < value <= 10_000:
            parser.error(f"{name} must be above 0 and at most 10,000, got {value:g}")
    if not 1 <= args.backlog <= 1_000_000:
        parser.error(f"--backlog must be at least 1 and at most 1,000,000, got {args.backlog}")
    return args


def main(argv: list[str] | None = None) -> int:
    from producer_app.bootstrap import bootstrap
    from producer_app.settings import ProducerSettings
    from stack.layout import Layout

    args = parse(argv)
    result = exactly_once.run(
        Layout(Path.cwd()),
        bootstrap(ProducerSettings()),
        rate=args.rate,
        seconds=args.seconds,
        backlog_orders=args.backlog,
    )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "result.json").write_text(json.dumps(result, indent=2))
    (args.out / "result.md").write_text(markdown(result))
    print(markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
