"""The health wait names the part that failed and shows its log, with a fake clock."""

from __future__ import annotations

from pathlib import Path

import pytest

from stack.health import StackError, wait_healthy


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_returns_time_waited_once_probe_passes(tmp_path: Path) -> None:
    clock = FakeClock()
    answers = iter(["booting", "booting", None])
    waited = wait_healthy(
        "kafka",
        lambda: next(answers),
        timeout=10,
        log_file=tmp_path / "x",
        interval=1.0,
        clock=clock,
        sleep=clock.sleep,
    )
    assert waited == 2.0


def test_timeout_names_part_reason_and_log_tail(tmp_path: Path) -> None:
    log = tmp_path / "connect.log"
    log.write_text("line 1\nERROR plugin path missing\n")
    clock = FakeClock()
    with pytest.raises(StackError) as err:
        wait_healthy(
            "connect",
            lambda: "REST refused",
            timeout=5,
            log_file=log,
            interval=1.0,
            clock=clock,
            sleep=clock.sleep,
        )
    message = str(err.value)
    assert message.startswith("connect not healthy after 5s (REST refused)")
    assert "ERROR plugin path missing" in message


def test_a_process_that_exits_fails_at_once(tmp_path: Path) -> None:
    clock = FakeClock()
    with pytest.raises(StackError, match="kafka exited while starting"):
        wait_healthy(
            "kafka",
            lambda: "no metadata",
            timeout=60,
            log_file=tmp_path / "k.log",
            is_running=lambda: False,
            clock=clock,
            sleep=clock.sleep,
        )
    assert clock.now == 0.0
