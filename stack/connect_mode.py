"""Connect's workers restarted in one exactly-once mode (KIP-618's
``exactly.once.source.support``): used by ``make bench-eos`` to measure both modes in one run
and by the test that runs the pipeline with it on.

A worker group runs one mode, so every worker is stopped before any starts (KIP-618's rolling
path through ``preparing`` is for a live upgrade; here the task may stop for the restart). The
principals and ACLs are applied first (the transactional ids are granted only in the on mode),
and the connector is registered as these workers run it: ``exactly.once.support=required``
with the mode on, so a worker without it fails the connector rather than run at least once.
"""

from __future__ import annotations

import os
import signal
import time

from stack import connect, kafka_auth
from stack.connect import ConnectorStatus
from stack.health import StackError
from stack.layout import Layout
from stack.parts import Part, connect_parts, consumer_groups
from stack.rest import ConnectRest
from stack.settings import StackSettings

CONNECTOR = "orders-outbox"
TOPIC = "outbox.event.order"


def restart_workers(layout: Layout, settings: StackSettings) -> ConnectorStatus:
    """Every worker stopped, then started with ``settings.connect_exactly_once``; returns the
    connector's status once it runs."""
    workers = connect_parts(layout, settings)
    for part in workers:
        part.halt()
    kafka_auth.apply(settings, consumer_groups(), TOPIC, "dlq.")
    for part in workers:
        part.launch()
    for part in workers:
        part.wait()
    (file,) = connect.load_connector_files(layout.root / "connectors")
    return connect.register(
        settings.connect_rest(),
        connect.for_workers(file, exactly_once=settings.connect_exactly_once),
        timeout=180,
    )


def task_worker(rest: ConnectRest) -> str | None:
    """``host:port`` of the worker running the connector's task, None while it runs nowhere."""
    st = connect.status(rest, CONNECTOR)
    return st.workers[0] if st is not None and st.running and st.workers else None


def gone(part: Part, timeout: float = 30) -> None:
    """Wait until a killed ``part``'s process is gone: started again before, ``up`` takes the
    dying process for a running one, then reports that it exited while starting."""
    deadline = time.monotonic() + timeout
    while part.pid() is not None:
        if time.monotonic() > deadline:
            raise StackError(f"{part.name} still runs {timeout:.0f} s after kill -9")
        time.sleep(0.2)


def kill_task_worker(layout: Layout, settings: StackSettings) -> tuple[Part, float]:
    """SIGKILL the worker running the task; the seconds until the task runs again (on another
    worker, or on this one started again when it is the only one). The victim is left down
    when another worker took the task: the caller starts it (``Part.up``)."""
    on = task_worker(settings.connect_rest())
    if on is None:
        raise StackError("the connector's task is not running: nothing to fail over")
    worker = next(w for w in settings.topology.workers if on == f"{w.host}:{w.port}")
    victim = next(p for p in connect_parts(layout, settings) if p.name == worker.name)
    pid = victim.pid()
    if pid is None:
        raise StackError(f"{victim.name} is not running")
    killed_at = time.monotonic()
    os.kill(pid, signal.SIGKILL)
    gone(victim)
    alone = len(settings.topology.workers) == 1
    if alone:
        victim.up()
    while time.monotonic() - killed_at < 300:
        try:
            now = task_worker(settings.connect_rest())
        except OSError:
            now = None
        if now is not None and (alone or now != on):
            return victim, time.monotonic() - killed_at
        time.sleep(0.5)
    raise StackError(f"the task did not run again within 300 s of killing {victim.name}")
