"""Every import points down, function-local imports included (a drawing of the imports
misses those): the wire contract imports no deployable; the consumer runtime is a library
that knows none of this app (its events come in as a catalog); the stack knows neither the
producer nor the consumers (the group names come from ``contract/groups.py``); the tools sit
on top. Read from the code's own syntax trees, so a new arrow upward fails here."""

from __future__ import annotations

import ast

import pytest

from tests.conftest import ROOT

# Each package and the packages it may import (besides itself and third-party libraries).
ALLOWED = {
    "contract": set(),
    "consumer_runtime": {"contract"},
    "producer_app": {"contract"},
    "stack": {"contract"},
    "consumers": {"consumer_runtime", "contract"},
    "ops": {"consumer_runtime", "consumers", "contract", "stack"},
    # chaos mints its run's API key through the producer's bootstrap, as make api-key does.
    "chaos": {"consumer_runtime", "consumers", "contract", "ops", "producer_app", "stack"},
    "bench": {"consumer_runtime", "consumers", "contract", "ops", "producer_app", "stack"},
}


def imported(package: str) -> dict[str, set[str]]:
    """Our packages that ``package`` imports, each with the files that do it."""
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top in ALLOWED and top != package:
                    found.setdefault(top, set()).add(str(path.relative_to(ROOT)))
    return found


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_every_import_points_down(package: str) -> None:
    upward = {top: files for top, files in imported(package).items() if top not in ALLOWED[package]}
    assert upward == {}
