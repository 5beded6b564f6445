"""The docs cannot go stale quietly: every ``make`` verb the README names is a Makefile
target, every file or folder the README and the architecture notes point at exists, and every
Python code block of the README compiles (the handler example is also run: test_typed_handlers
and tests/integration/test_readme_handler.py)."""

from __future__ import annotations

import re

import pytest

from tests.conftest import ROOT

DOCS = ["README.md", "docs/architecture.md"]


def _text(name: str) -> str:
    return (ROOT / name).read_text()


def test_every_make_verb_in_the_readme_is_a_target() -> None:
    targets = set(re.findall(r"^([a-z][a-z-]*):", (ROOT / "Makefile").read_text(), re.M))
    named = set(re.findall(r"\bmake ([a-z][a-z-]+)", _text("README.md")))
    assert named, "the README names no make verb"
    assert named - targets == set()


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


def test_every_python_block_of_the_readme_compiles() -> None:
    blocks = re.findall(r"```python\n(.*?)```", _text("README.md"), re.S)
    assert len(blocks) >= 3
    for i, code in enumerate(blocks):
        compile(code, f"README.md python block {i}", "exec")
