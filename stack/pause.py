"""One part of the native stack stopped for a block and started again afterwards, whatever
happened in it: ``make bench`` (the writer without consumers), ``make rebuild`` (a group
reset while nothing consumes), ``make chaos`` and the schema-rollout test (the consumers run
meanwhile with another environment, passed to their process, never written into this one's).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from stack.parts import Part


def _up(part: Part) -> None:
    part.up()


@contextmanager
def paused(
    part: Part,
    *,
    meanwhile: Part | None = None,
    restart: Callable[[Part], None] = _up,
) -> Iterator[bool]:
    """``part`` stopped for the block; yields whether it was running. ``meanwhile``: started
    in its place for the block (the same process, with another environment or command),
    stopped after it. ``part`` is then started again, healthy, if it was running before;
    ``restart`` does it (``Part.up`` by default, which raises ``StackError`` past its time)."""
    running = part.pid() is not None
    part.halt()
    try:
        if meanwhile is not None:
            meanwhile.up()
        yield running
    finally:
        if meanwhile is not None:
            meanwhile.halt()
        if running:
            restart(part)
