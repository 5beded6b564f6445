"""The command lines' shared rules for bad input: one line naming the argument as the operator
typed it (the ``make`` variable, and the option behind it), exit 2, never a traceback.

Every deployable's ``__main__`` builds its parser from ``Parser`` and its value checks from
the types here, so ``make republish IDS=garbage`` and ``python -m producer_app republish
--ids garbage`` fail the same way: ``error: IDS (--ids): 'garbage' is not a UUID``.
"""

from __future__ import annotations

import argparse
import re
import sys
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import NoReturn


class BadArgument(Exception):
    """An argument that parsed but names something that is not there (an unknown id, group or
    topic): the entrypoint prints ``error: <message>`` and exits 2, having changed nothing."""


def fail(message: str) -> NoReturn:
    """Print the one line and exit 2 (what argparse does, without its usage block)."""
    print(f"error: {' '.join(message.split())}", file=sys.stderr)
    raise SystemExit(2)


class Parser(argparse.ArgumentParser):
    """``argparse`` with one-line errors that name the ``make`` variable too.

    ``make_names`` maps an option or positional (``--from``, ``topic``) to the variable the
    Makefile fills it from (``FROM``); build the class with ``parser_for`` so that subparsers
    (``add_subparsers(parser_class=type(parser))``) share it."""

    make_names: dict[str, str] = {}  # noqa: RUF012 - read only; each class gets its own

    def error(self, message: str) -> NoReturn:
        fail(named(message, self.make_names))


def parser_for(make_names: dict[str, str]) -> type[Parser]:
    """A ``Parser`` class that names these variables."""
    return type("Parser", (Parser,), {"make_names": dict(make_names)})


def named(message: str, make_names: dict[str, str]) -> str:
    """argparse's ``argument --ids: ...`` -> ``IDS (--ids): ...``; each option in a list of
    required ones gets its variable too. Only argparse's own phrases are rewritten."""

    def label(option: str) -> str:
        option = option.split("/")[-1]
        return f"{make_names[option]} ({option})" if option in make_names else option

    found = re.match(r"argument ([^:]+): (.*)", message, re.S)
    if found:
        return f"{label(found[1])}: {found[2]}"
    found = re.match(r"(the following arguments are required: )(.*)", message, re.S)
    if found:
        return found[1] + ", ".join(label(o) for o in found[2].split(", "))
    found = re.match(r"one of the arguments (.*) is required", message, re.S)
    if found:
        return f"one of {', '.join(label(o) for o in found[1].split())} is required"
    return message


def shown(value: str, limit: int = 60) -> str:
    """A value quoted for an error line: control characters escaped, cut to ``limit``."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 4] + "...'"


def uuids(text: str) -> list[uuid.UUID]:
    """Comma-separated UUIDs, at least one; each bad one named."""
    parts = [p.strip() for p in text.split(",")]
    if not any(parts):
        raise argparse.ArgumentTypeError("give at least one id")
    found, bad = [], []
    for p in parts:
        if not p:
            continue
        try:
            found.append(uuid.UUID(p))
        except ValueError:
            bad.append(p)
    if bad:
        raise argparse.ArgumentTypeError(
            f"{', '.join(shown(b) for b in bad[:3])} {'is' if len(bad) == 1 else 'are'} not a UUID"
        )
    return list(dict.fromkeys(found))


def when(text: str) -> datetime:
    """An ISO 8601 time; without a zone it is UTC (what the database and Kafka use)."""
    try:
        found = datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{shown(text)} is not an ISO 8601 time (e.g. 2026-12-01T09:30 or "
            "2026-12-01T09:30:00+01:00)"
        ) from None
    return found if found.tzinfo else found.replace(tzinfo=UTC)


def count(minimum: int = 0, maximum: int | None = None) -> Callable[[str], int]:
    """An integer in ``[minimum, maximum]``."""

    def parse(text: str) -> int:
        try:
            value = int(text.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"{shown(text)} is not a whole number") from None
        if value < minimum or (maximum is not None and value > maximum):
            top = "" if maximum is None else f" and at most {maximum:,}"
            raise argparse.ArgumentTypeError(f"{value} must be at least {minimum}{top}")
        return value

    return parse


def rate(text: str) -> float:
    """A non-negative, finite number."""
    try:
        value = float(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{shown(text)} is not a number") from None
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"{shown(text)} must be 0 or more (and finite)")
    return value


def one_of(names: Iterable[str], what: str) -> Callable[[str], str]:
    """A name from a known list; the error lists them."""
    known = sorted(names)

    def parse(text: str) -> str:
        if text not in known:
            raise argparse.ArgumentTypeError(
                f"no {what} {shown(text)} ({what}s: {', '.join(known)})"
            )
        return text

    return parse
