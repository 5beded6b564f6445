"""The chaos report cannot pass vacuously: a run that injected too little, placed nothing or
had a client give up fails, as does any loss, doubling or stray dead letter."""

from __future__ import annotations

import dataclasses

import pytest

from chaos.report import Injection, Report
from chaos.verdict import GroupVerdict, Verdict


def clean() -> Report:
    return Report(
        requested=["a", "b"],
        orders=10,
        new_orders=10,
        client_orders=10,
        verdict=Verdict(run_orders=10, expected_events=12, groups={"g": GroupVerdict()}),
        injections=[Injection("a", 1.0, 2.0), Injection("b", 3.0, 4.0)],
    )


def test_a_clean_run_passes() -> None:
    assert clean().passed


@pytest.mark.parametrize(
    "change",
    [
        {"injections": [Injection("a", 1.0, 2.0)]},  # kind b never injected
        {"injections": [Injection("a", 1.0, 2.0), Injection("b", 3.0, error="boom")]},
        {"new_orders": 0, "client_orders": 0, "verdict": Verdict(run_orders=0)},  # no order
        {"client_gave_up": 1},
        {"client_orders": 9},  # an order the clients were not told about, or the reverse
        {"orders_told_but_missing": 1},
        {"keys_with_two_orders": 1},
        {"final_lag": 3},
        {"slot_behind_bytes": 100},
        {"violations": {"sales projection": 1}},
    ],
)
def test_a_run_that_proves_nothing_or_finds_a_fault_fails(change: dict[str, object]) -> None:
    assert not dataclasses.replace(clean(), **change).passed  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "group",
    [
        GroupVerdict(not_handled=1),
        GroupVerdict(dead_marked=1),
        GroupVerdict(poison_missing=1),
        GroupVerdict(unexpected_dead=1),
    ],
)
def test_each_group_must_hold_exactly_its_events_and_its_poison(group: GroupVerdict) -> None:
    report = clean()
    report.verdict.groups["g"] = group
    assert not report.passed


def test_a_pair_under_two_ids_or_an_event_missing_from_the_topic_fails() -> None:
    for change in ({"pairs_with_two_ids": 1}, {"missing_on_topic": 1}, {"unexpected_on_topic": 1}):
        report = clean()
        report.verdict = dataclasses.replace(report.verdict, **change)  # type: ignore[arg-type]
        assert not report.passed


def test_copies_of_a_dead_letter_are_reported_not_failed() -> None:
    """At least once: a consumer killed after sending a dead letter and before its commit
    sends it again. The set of dead letters is still exactly the poison."""
    report = clean()
    report.verdict.groups["g"] = GroupVerdict(dead_letter_copies=1, dead_lettered=3)
    assert report.passed
    assert "| g | 0 | 0 | 3 | 0 | 0 | 1 |" in report.markdown()


def test_every_fault_name_can_be_given_on_the_command_line() -> None:
    """``make chaos`` takes ``--faults a,b``: a comma inside a name would split it (either
    topology's kinds)."""
    from chaos.run import FAULTS_OF

    assert not [name for kinds in FAULTS_OF.values() for name in kinds if "," in name]


def test_no_fault_name_breaks_the_reports_table() -> None:
    from chaos.run import FAULTS_OF

    assert not [name for kinds in FAULTS_OF.values() for name in kinds if "|" in name]
