"""``dlq-replay`` says whether it finished: a replay cut off by its deadline must not exit 0."""

from __future__ import annotations

from collections import Counter

from ops.replay import finished


def test_a_replay_that_gave_every_dead_letter_an_outcome_finished() -> None:
    assert finished(Counter(todo=4, handled=2, duplicate=1, ignored=1))
    assert finished(Counter())  # nothing to replay


def test_a_replay_cut_off_by_its_deadline_did_not_finish() -> None:
    assert not finished(Counter(todo=5, handled=3))
