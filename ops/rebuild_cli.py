"""``make rebuild GROUP= [FORCE=1]``: stop this stack's consumers, rebuild the group
(``ops.rebuild``), start them again and wait until the group has caught up.

The native stack runs every group in one supervised ``consumers`` part, so all groups pause
for the few seconds of the reset; the others resume where they were. With Compose the
Makefile stops and starts the ``consumers`` service around this command instead.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console

from consumers.handlers import REGISTRY
from consumers.settings import ConsumerSettings
from contract.kafka import KafkaAccess
from ops.lag import group_lag
from ops.rebuild import Refused, members_of, precheck, rebuild
from stack.health import StackError
from stack.layout import Layout
from stack.parts import Part, consumers_part
from stack.pause import paused
from stack.process import running_pid
from stack.settings import StackSettings

out = Console(highlight=False, soft_wrap=True)  # a line per fact, for grep and logs


@contextmanager
def local_consumers_stopped(root: Path) -> Iterator[None]:
    """This stack's ``consumers`` part stopped for the block (if it runs), then started again
    whatever happened, so a refused rebuild leaves the pipeline as it found it."""
    settings = StackSettings(_env_file=root / ".env")
    with paused(consumers_part(Layout(root), settings), restart=_start_again) as running:
        if running:
            out.print("consumers stopped (this stack's; every group pauses meanwhile)")
        yield


def _start_again(part: Part) -> None:
    """Started, and healthy within the part's time; a group still rebalancing then (a
    member elsewhere that has not rejoined yet) is reported, not raised over the answer."""
    try:
        part.up()
        out.print("consumers started again")
    except StackError as exc:
        out.print(f"[yellow]consumers started again, not healthy yet[/]: {str(exc)[:300]}")


def local_member(root: Path) -> Callable[[str], bool]:
    """Whether a member (``client_id@host``, the client id ``<group>-<pid>``: see
    ``consumers.bootstrap.client_id``) is a process of this stack's ``consumers`` part, which
    the rebuild stops itself."""
    top = running_pid(Layout(root).pid_file("consumers"))
    ours = _descendants(top) if top else set()

    def claim(member: str) -> bool:
        pid = member.split("@")[0].rsplit("-", 1)[-1]
        return pid.isdigit() and int(pid) in ours

    return claim


def _descendants(top: int) -> set[int]:
    """``top`` and every process below it (from /proc's parent pids)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = set(), [top]
    while todo:
        pid = todo.pop()
        found.add(pid)
        todo += children.get(pid, [])
    return found


def wait_until_left(settings: ConsumerSettings, group: str, timeout: float) -> None:
    """Members that were stopped leave at once; one killed lingers until its session ends."""
    deadline = time.monotonic() + timeout
    while members_of(settings, group) and time.monotonic() < deadline:
        time.sleep(1)


def wait_caught_up(settings: ConsumerSettings, group: str, timeout: float) -> int:
    """Lag left when it reached 0 or the time ran out, with a line every 5 s meanwhile."""
    access = settings.kafka_for(group)
    deadline, shown = time.monotonic() + timeout, 0.0
    while True:
        lag = sum(r.lag for r in group_lag(access, [group]))
        if lag == 0 or time.monotonic() >= deadline:
            return lag
        if time.monotonic() - shown >= 5:
            out.print(f"{group}: {lag} events to go")
            shown = time.monotonic()
        time.sleep(1)


def cmd_rebuild(args: argparse.Namespace, _: KafkaAccess) -> int:
    """The group's own principal and the consumers' role do the work, not the admin's."""
    if args.group not in REGISTRY:
        out.print(f"error: no group {args.group!r} (groups: {', '.join(sorted(REGISTRY))})")
        return 2
    settings = ConsumerSettings()
    why = precheck(
        settings,
        REGISTRY[args.group],
        force=args.force,
        since=args.since,
        ours=(lambda member: True) if args.check else local_member(Path.cwd()),
    )
    if why is not None:
        out.print(f"[red]refused[/], nothing stopped or changed: {why}")
        return 2
    if args.check:  # compose: the Makefile stops the consumers service next
        return 0
    try:
        with local_consumers_stopped(Path.cwd()):
            wait_until_left(settings, args.group, settings.session_timeout_ms / 1000 + 5)
            done = rebuild(settings, REGISTRY[args.group], force=args.force, since=args.since)
    except Refused as exc:
        out.print(f"[red]refused[/]: {exc}")
        return 2
    rows = ", ".join(f"{n} by {what!r}" for what, n in done.rows_deleted.items())
    out.print(
        f"{done.group}: tables emptied ({rows}); offsets of {done.partitions} partitions "
        f"reset to {'the earliest retained event' if args.since is None else args.since}; "
        f"{done.events} events to apply again"
    )
    if args.wait <= 0:
        return 0
    left = wait_caught_up(settings, done.group, args.wait)
    if left:
        out.print(f"error: {done.group} still {left} events behind after {args.wait:.0f}s")
        return 1
    out.print(f"{done.group}: rebuilt and caught up")
    return 0
