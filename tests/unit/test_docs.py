"""The docs cannot go stale quietly: every ``make`` verb README.md and docs/ name is a Makefile
target, every file or folder they point at exists, every Python code block compiles (the handler
example is also run: test_typed_handlers and tests/integration/test_readme_handler.py; the
operator's tour in docs/operations.md by tests/e2e/test_readme_tour.py), and the README stays
short enough for a newcomer to read in ten minutes, every page of docs/ linked from it."""

from __future__ import annotations

import re

import pytest

from consumer_runtime import HandlerContext, handler
from consumers.events import OrderPlaced
from tests.conftest import ROOT
from tests.consumer_fakes import chain_for
from tests.readme import pages

DOCS = [str(p.relative_to(ROOT)) for p in pages()]
README_MAX_LINES = 300


def _text(name: str) -> str:
    return (ROOT / name).read_text()


@pytest.mark.parametrize("doc", DOCS)
def test_every_make_verb_in_the_docs_is_a_target(doc: str) -> None:
    targets = set(re.findall(r"^([a-z][a-z-]*):", (ROOT / "Makefile").read_text(), re.M))
    named = set(re.findall(r"\bmake ([a-z][a-z-]+)", _text(doc)))
    assert named - targets == set()


def test_the_readme_names_the_verbs_and_stays_short() -> None:
    readme = _text("README.md")
    assert re.findall(r"\bmake ([a-z][a-z-]+)", readme), "the README names no make verb"
    assert len(readme.splitlines()) <= README_MAX_LINES


def test_every_page_of_the_docs_is_linked_from_the_readme() -> None:
    readme = _text("README.md")
    assert [d for d in DOCS[1:] if f"`{d}`" not in readme] == []


@pytest.mark.parametrize("doc", DOCS)
def test_every_path_the_docs_point_at_exists(doc: str) -> None:
    paths = {
        p
        for p in re.findall(r"`([\w./-]+/[\w./-]*)`", _text(doc))
        # results folders are written by the tools (git-ignored), not shipped
        if not p.startswith(("http", "/", ".stack", ".venv", "bench/results", "chaos/results"))
        and "/" in p
        and not any(c in p for c in "<>*")
        and re.search(r"\.(py|json|md|yaml|yml|xml|avsc|toml)$|/$", p)
    }
    missing = sorted(p for p in paths if not (ROOT / p).exists())
    assert missing == []


def test_every_python_block_of_the_docs_compiles() -> None:
    blocks = [
        (d, code) for d in DOCS for code in re.findall(r"```python\n(.*?)```", _text(d), re.S)
    ]
    assert len([d for d, _ in blocks if d == "README.md"]) >= 3
    for i, (doc, code) in enumerate(blocks):
        compile(code, f"{doc} python block {i}", "exec")


def _guarantee_layers() -> tuple[str, ...]:
    """The real chain's layers, users' middleware left out (the docs name it in words)."""

    @handler("g")
    def nothing(event: OrderPlaced, ctx: HandlerContext) -> None: ...

    return chain_for(nothing, attempts=1, duplicate=True).layers


def test_the_middleware_order_written_in_the_module_is_the_real_chain() -> None:
    doc = (ROOT / "consumer_runtime/middleware/__init__.py").read_text().split('"""')[1]
    written = tuple(re.findall(r"^\d\. ``(\w+)``", doc, re.M))
    assert (*written, "handler") == _guarantee_layers()


def test_the_middleware_order_in_the_architecture_notes_is_the_real_chain() -> None:
    text = " ".join(_text("docs/architecture.md").split())
    found = re.search(r"\*\*Middleware order\*\*.*?\): ((?:[\w*' ]+ → )+\w+)\.", text)
    assert found, "architecture.md lost its middleware order line"
    written = tuple(n for n in found[1].split(" → ") if n != "*users' middleware*")
    assert written == _guarantee_layers()


def test_consumer_rates_in_the_architecture_notes_are_the_readme_benchmark() -> None:
    """docs/benchmark.md holds what ``make bench`` wrote; the architecture notes quote its
    consumer rates, and must quote the same run."""
    readme = " ".join(_text("docs/benchmark.md").split())
    notes = " ".join(_text("docs/architecture.md").split())
    measured = re.search(r"Consumers on ([\d,]+) messages: .*?; (.*?)\.", readme)
    assert measured, "docs/benchmark.md has no consumer rates"
    messages, rates = measured[1], dict(re.findall(r"([\w-]+) ([\d,]+)/s \(", measured[2]))
    assert f"replaying {messages} events" in notes
    for group, rate in rates.items():
        assert f"{group} {rate}/s" in notes, (group, rate)
