"""The chaos harness fails for its own reasons only when it must, and says so apart from the
pipeline's verdict: a wait meets a busy broker as "not yet"; a fault the harness cannot bring
about is classified as the harness's and tried again; the report counts kinds, not attempts.
(A run once said "20 of 20 kinds, missing: overlap: partition from kafka + disk full" and
failed because a lag read met a broker slow to answer.)"""

from __future__ import annotations

from typing import Any

import pytest

from chaos.crash import overlap
from chaos.faults import NotInjected, wait_until
from chaos.report import Injection, Report
from chaos.run import attempt
from chaos.verdict import GroupVerdict, Verdict
from ops.errors import Unreachable


def test_a_wait_counts_a_slow_broker_as_not_yet() -> None:
    answers: list[Any] = [Unreachable("Kafka", "127.0.0.1:9092", "Unable to bootstrap")] * 3
    answers += [False, True]

    def check() -> bool:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return bool(answer)

    wait_until(check, timeout=10, what="the lag to drain")
    assert answers == []


def test_a_wait_that_times_out_names_what_it_waited_for_and_the_last_error() -> None:
    def check() -> bool:
        raise Unreachable("Kafka", "127.0.0.1:9092", "Unable to bootstrap")

    with pytest.raises(NotInjected, match=r"waited 0s for kafka to die \(last: Unreachable"):
        wait_until(check, timeout=0.2, what="kafka to die", failure=NotInjected)


def test_a_wait_does_not_hide_a_bug() -> None:
    def check() -> bool:
        raise KeyError("not a transient error")

    with pytest.raises(KeyError):
        wait_until(check, timeout=5)


def _fault(exc: Exception | None, seconds: float = 1.0) -> Any:
    def fault(ctx: Any) -> float:
        if exc is not None:
            raise exc
        return seconds

    return fault


def test_an_attempt_classifies_its_error_by_cause() -> None:
    harness = attempt(_fault(NotInjected("connect is not running")), None, "x", 1.0)  # type: ignore[arg-type]
    assert (harness.harness_error, harness.error) == ("connect is not running", None)
    pipeline = attempt(_fault(TimeoutError("waited 180s")), None, "x", 1.0)  # type: ignore[arg-type]
    assert pipeline.harness_error is None
    assert pipeline.error == "TimeoutError('waited 180s')"
    assert attempt(_fault(None, 4.0), None, "x", 1.0).recovered_s == 4.0  # type: ignore[arg-type]


def test_an_overlap_reports_the_pipelines_failure_before_the_harness() -> None:
    both = overlap(_fault(NotInjected("no consumer to stop")), _fault(TimeoutError("recovery")))
    with pytest.raises(TimeoutError):
        both(None)  # type: ignore[arg-type]


def _report(*injections: Injection) -> Report:
    return Report(
        requested=["a", "b"],
        orders=10,
        new_orders=10,
        client_orders=10,
        verdict=Verdict(run_orders=10, expected_events=12, groups={"g": GroupVerdict()}),
        injections=list(injections),
    )


def test_a_kind_the_harness_could_not_bring_about_fails_the_harness_not_the_data() -> None:
    report = _report(Injection("a", 1.0, 2.0), Injection("b", 3.0, harness_error="no broker"))
    assert report.pipeline_ok
    assert not report.harness_ok
    assert not report.passed
    assert report.result == "FAIL (the harness: not injected b)"
    assert "| fault kinds injected | 1 of 2 (1 injections, 1 the harness could not" in (
        report.markdown()
    )
    assert "; missing: b)" in report.markdown()


def test_a_kind_tried_again_and_injected_counts_once() -> None:
    report = _report(
        Injection("b", 1.0, harness_error="no broker"),
        Injection("a", 2.0, 2.0),
        Injection("b", 3.0, 4.0),
    )
    assert report.passed
    assert "| fault kinds injected | 2 of 2 (2 injections, 1 the harness could not" in (
        report.markdown()
    )
    assert "missing" not in report.markdown()
    rows = {kind: injected for kind, injected, *_ in report.by_kind()}
    assert rows == {"a": 1, "b": 1}


def test_a_pipeline_that_did_not_recover_fails_the_pipeline() -> None:
    report = _report(Injection("a", 1.0, 2.0), Injection("b", 3.0, error="TimeoutError()"))
    assert report.harness_ok
    assert not report.pipeline_ok
    assert report.result == "FAIL (the pipeline)"
