"""``make bench-eos`` without a stack: its arguments are checked before anything restarts
(a bad one is an error naming it, exit 2), and its table has one column per mode with every
figure the docs quote."""

from __future__ import annotations

from dataclasses import asdict

import pytest

from bench.exactly_once import Mode
from bench.exactly_once_cli import markdown, parse


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["--rate", "0"], "--rate"),
        (["--rate", "-5"], "--rate"),
        (["--seconds", "20000"], "--seconds"),
        (["--backlog", "0"], "--backlog"),
        (["--backlog", "many"], "--backlog"),
    ],
)
def test_a_bad_argument_is_refused_by_name(
    argv: list[str], named: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        parse(argv)
    assert exit_.value.code == 2
    assert named in capsys.readouterr().err


def test_the_defaults_are_the_issues_load() -> None:
    args = parse([])
    assert (args.rate, args.seconds, args.backlog) == (100.0, 60.0, 3000)


def test_the_table_has_off_and_on_side_by_side() -> None:
    off = Mode(
        False,
        100,
        99.5,
        {"p50": 40.0, "p99": 120.0},
        {"p50": 45.0, "p99": 130.0},
        {"p50": 90.0, "p99": 400.0},
        "connect",
        21.3,
        57,
        57,
        1800.0,
        3.2,
    )
    on = Mode(True, 100, 99.1, {"p50": 50.0, "p99": 300.0}, {}, {"p50": 95.0, "p99": 700.0},
              "connect", 25.0, 0, 12, 1500.0, 3.4)  # fmt: skip
    table = markdown({"topology": "single", "modes": [asdict(off), asdict(on)]})
    assert "| measure | off | on |" in table
    assert "| events re-published, as the consumers read them | 57 | 0 |" in table
    assert "| commit→Kafka p50 / p99 (record time) | 40 / 120 ms | 50 / 300 ms |" in table
    assert "| commit→visible to read_committed p50 / p99 | 45 / 130 ms | - / - ms |" in table
    assert "21.3 s (connect)" in table
    assert "1,800 events/s" in table
