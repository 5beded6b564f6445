"""The README's code blocks, for the tests that run them: a block is the fenced code right
after an HTML comment naming it (``<!-- readme-handler -->``), so a stale example fails."""

from __future__ import annotations

import re
import types
from typing import Any

from tests.conftest import ROOT


def block(name: str) -> str:
    text = (ROOT / "README.md").read_text()
    found = re.search(rf"<!-- {re.escape(name)} -->\n```\w*\n(.*?)```", text, re.S)
    if found is None:
        raise AssertionError(f"README.md has no block marked <!-- {name} -->")
    return found.group(1)


def module(name: str, **namespace: Any) -> types.ModuleType:
    """The block run as a module of its own (``namespace`` pre-set, e.g. Alembic's ``op``)."""
    mod = types.ModuleType(f"readme_{name.replace('-', '_')}")
    mod.__dict__.update(namespace)
    exec(compile(block(name), f"README.md:{name}", "exec"), mod.__dict__)  # noqa: S102
    return mod
