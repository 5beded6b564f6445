"""Every make verb that takes an argument, given a bad one: hypothesis draws garbage, unknown
ids, out-of-range offsets, unknown groups, topics, roles and parts, times to come, and leaves
out required variables. Each must end with exit 2 (make reports the tool's ``Error 2``, or
its own error for ``STACK=``), print no traceback, and name the variable or the value it
refused. None may exit 0: an unknown id is an error, not a silent zero.

Only bad values are drawn (garbage starts with a letter no number, id or time starts with),
so a case can never start a stack, seed orders or reset a group. make itself expands ``$``
in a value, so garbage holds none. Bounded: ``CASES`` sets per verb, run side by side, no
shrinking, no deadline; ``make test`` runs it (about a minute on an idle machine).
"""

from __future__ import annotations

import re
import subprocess
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import date

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.conftest import ROOT

pytestmark = pytest.mark.e2e

Case = tuple[dict[str, str], list[str]]  # make variables, words one of which must be named
printable = st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="$")
garbage = st.text(printable, max_size=30).map(lambda t: "x" + t)  # never a number, id or time
unknown_id = st.uuids().map(str)
unknown_name = st.text("abcdefghijklmnop-", min_size=3, max_size=12).map(lambda t: f"nope-{t}")
past_end = st.integers(10**8, 10**10).map(str)
negative = st.integers(-(10**6), -1).map(str)
future = st.dates(min_value=date(2100, 1, 1)).map(str)
groups = st.sampled_from(["inventory", "notifications", "sales-projection"])
# Never a client name (1-63 of a-z, 0-9, '.', '_', '-'): an upper-case letter and a '!' first.
bad_client = st.text(printable, max_size=20).map(lambda t: "X!" + t) | st.just("a" * 64)


def one(variable: str, values: st.SearchStrategy[str], **fixed: str) -> st.SearchStrategy[Case]:
    """``variable`` bad, the others ``fixed`` (good); the variable or the value named."""
    return values.map(lambda v: ({**fixed, variable: v}, [variable, v.strip()[:20]]))


def missing(*variables: str, **fixed: str) -> st.SearchStrategy[Case]:
    return st.just((fixed, list(variables)))


ID = str(uuid.UUID(int=1))
CASES = 4  # bad argument sets per verb
VERBS: dict[str, st.SearchStrategy[Case]] = {
    "up": one("METRICS", garbage) | one("STACK", garbage),
    "logs": one("PART", unknown_name),
    "seed": one("ORDERS", garbage | negative | st.just("0")) | one("RATE", garbage | negative),
    "consume": one("INSTANCES", garbage | negative | st.just("0")),
    "inspect": missing("TOPIC")
    | one("TOPIC", unknown_name)
    | one("FROM", garbage | past_end | future, TOPIC="outbox.event.order")
    | one("N", garbage | negative | st.just("0"), TOPIC="outbox.event.order"),
    "lag": one("GROUP", unknown_name) | one("MAX_LAG", garbage | negative),
    "dlq-replay": missing("GROUP")
    | one("GROUP", unknown_name)
    | one("IDS", garbage | unknown_id, GROUP="notifications"),
    "trace": missing("ID") | one("ID", garbage | unknown_id),
    "reconcile": one("GROUP", unknown_name),
    "rebuild": missing("GROUP")
    | one("GROUP", unknown_name | st.just("notifications"))
    | one("SINCE", garbage | future, GROUP="sales-projection"),
    "republish": missing("IDS", "SINCE", "ALL")
    | one("IDS", garbage | unknown_id)
    | one("SINCE", garbage | future),
    "chaos": one("CHAOS_ORDERS", garbage | negative | st.just("0")),
    # Refused before any worker restarts: make bench-eos checks its arguments first.
    "bench-eos": one("RATE", garbage | negative | st.just("0"))
    | one("SECONDS", garbage | negative | st.just("0")),
    "connector": one("ACTION", garbage),
    "groups": one("GROUP", unknown_name),
    "reset-offsets": missing("GROUP", TO="earliest")
    | missing("TO", GROUP="inventory")
    | one("GROUP", unknown_name, TO="earliest")
    | one("TO", garbage | past_end | negative, GROUP="inventory", APPLY="1"),
    "psql": one("ROLE", unknown_name),
    "api-key": missing("NAME") | one("NAME", bad_client) | one("NAME", bad_client, REVOKE="1"),
    "dlq-skip": missing("GROUP", IDS=ID, REASON="why not")
    | missing("IDS", GROUP="notifications", REASON="why not")
    | missing("REASON", GROUP="notifications", IDS=ID)
    | one("GROUP", unknown_name, IDS=ID, REASON="why not")
    | one("IDS", garbage | unknown_id, GROUP="notifications", REASON="why not")
    | one("REASON", st.just("  ") | st.just("?!"), GROUP="notifications", IDS=ID),
}
# Verbs with no argument to get wrong (a flag such as JSON=1 or QUICK=1 is on when set).
WITHOUT_ARGUMENTS = {
    "help", "venv", "jars", "env", "down", "clean", "status", "register", "db", "test",
    "test-ha", "test-unit", "lint", "fmt", "schemas-check", "topics", "bench",
    "bench-observability", "acls", "schemas", "docker-engine", "docker-engine-down",
}  # fmt: skip


def run(verb: str, variables: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "-s", verb, *(f"{k}={v}" for k, v in variables.items())],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def check(verb: str, case: Case) -> None:
    variables, named = case
    done = run(verb, variables)
    said = done.stdout + done.stderr
    assert "Traceback" not in said, (verb, variables, said)
    assert done.returncode == 2, (verb, variables, done.returncode, said)
    assert "Error 2" in said or "*** " in said, (verb, variables, said)  # the tool's own 2
    assert any(word and word in said for word in named), (verb, variables, named, said)


def test_every_verb_with_arguments_is_covered() -> None:
    targets = set(re.findall(r"^([a-z][a-z-]*):", (ROOT / "Makefile").read_text(), re.M))
    assert targets - WITHOUT_ARGUMENTS == set(VERBS)


@pytest.mark.parametrize("verb", sorted(VERBS))
def test_a_bad_argument_is_named_with_exit_2(verb: str, kafka_up: object) -> None:
    """One example of ``CASES`` bad argument sets, run side by side (each is a process
    that mostly waits for its imports or a broker's answer)."""

    @settings(
        max_examples=1,
        deadline=None,
        phases=(Phase.explicit, Phase.generate),
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    @given(cases=st.lists(VERBS[verb], min_size=CASES, max_size=CASES))
    def bad(cases: list[Case]) -> None:
        with ThreadPoolExecutor(CASES) as pool:
            for done in [pool.submit(check, verb, case) for case in cases]:
                done.result()

    bad()
