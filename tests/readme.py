"""The docs' code blocks, for the tests that run them: a block is the fenced code right after an
HTML comment naming it (``<!-- readme-handler -->``), in README.md or a page of docs/ (the
operator's tour lives in docs/operations.md), so a stale example fails."""

from __future__ import annotations

import re
import types
from pathlib import Path
from typing import Any

from tests.conftest import ROOT


def pages() -> list[Path]:
    """README.md and every page of docs/: what the docs tests read."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def block(name: str) -> str:
    """The block marked ``<!-- name -->``; a name marked twice, or nowhere, is an error."""
    pattern = re.compile(rf"<!-- {re.escape(name)} -->\n```\w*\n(.*?)```", re.S)
    found = [m.group(1) for page in pages() for m in pattern.finditer(page.read_text())]
    if len(found) != 1:
        raise AssertionError(f"{len(found)} blocks marked <!-- {name} --> in README.md and docs/")
    return found[0]


def module(name: str, **namespace: Any) -> types.ModuleType:
    """The block run as a module of its own (``namespace`` pre-set, e.g. Alembic's ``op``)."""
    mod = types.ModuleType(f"readme_{name.replace('-', '_')}")
    mod.__dict__.update(namespace)
    exec(compile(block(name), f"README.md:{name}", "exec"), mod.__dict__)  # noqa: S102
    return mod
