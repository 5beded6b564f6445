"""``python -m stack serve PART`` and ``probe PART``: a part of the stack in the foreground, as
compose's containers run it, from the same code the native launcher uses.

The native stack spawns each part in the background with a pid file (``stack.parts``); a
container runs one part as its main process instead. Both take the command, the rendered
configuration and the environment from the same functions (``stack.postgres``, ``stack.jvm``,
``stack.monitoring``), so the two stacks cannot drift: a listener, a server option or a
metrics rule is written once. ``probe`` is the same health check ``make up`` waits on, run
once for a container's healthcheck (a Python check, not a JVM tool: it starts in a fraction of
the time and loads no agent of the part's own).
"""

from __future__ import annotations

import os
from collections.abc import Callable

from contract.kafka import KafkaAccess
from stack import jvm, monitoring, postgres
from stack.health import Probe, connect_probe, kafka_probe, postgres_probe, text_probe
from stack.layout import Layout
from stack.rest import ConnectRest
from stack.secrets import own_secrets
from stack.settings import StackSettings

Command = tuple[list[str], dict[str, str]]


def _postgres(layout: Layout, settings: StackSettings) -> Command:
    postgres.initdb(layout, settings)
    return postgres.foreground_command(layout, settings), own_secrets(os.environ)


def _kafka(layout: Layout, settings: StackSettings) -> Command:
    jvm.format_kafka_storage(layout, settings)
    return jvm.kafka_command(layout, settings), own_secrets(os.environ)


def _connect(layout: Layout, settings: StackSettings) -> Command:
    return jvm.connect_command(layout, settings), jvm.connect_env(settings)


def _prometheus(layout: Layout, settings: StackSettings) -> Command:
    return monitoring.command(layout, settings), own_secrets(os.environ)


PARTS: dict[str, Callable[[Layout, StackSettings], Command]] = {
    "postgres": _postgres,
    "kafka": _kafka,
    "connect": _connect,
    "prometheus": _prometheus,
}


def _own_kafka(settings: StackSettings) -> Probe:
    """This container's node alone, as ``make up`` probes each node: with every broker as
    bootstrap, any healthy one would pass for a node that is not up (HA in compose)."""
    admin = settings.kafka_as("admin")
    return kafka_probe(KafkaAccess(jvm.node(settings).address, admin.username, admin.password))


def _own_worker(settings: StackSettings) -> Probe:
    """This container's worker alone (a REST call may otherwise be answered by the other)."""
    rest = settings.connect_rest()
    return connect_probe(ConnectRest(jvm.worker(settings).url, rest.user, rest.password))


PROBES: dict[str, Callable[[StackSettings], Probe]] = {
    "postgres": lambda s: postgres_probe(s.admin_dsn("postgres")),
    "kafka": _own_kafka,
    "connect": _own_worker,
    "prometheus": lambda s: text_probe(f"http://127.0.0.1:{s.prometheus_port}/-/ready"),
}


def serve(layout: Layout, settings: StackSettings, part: str) -> None:
    """Prepare ``part`` (initdb, format, render) and replace this process with it; the part's
    process gets no secret it does not need (the rendered files hold what it reads)."""
    argv, env = PARTS[part](layout, settings)
    os.execvpe(argv[0], argv, env)  # noqa: S606 - our own command line


def probe(settings: StackSettings, part: str) -> str | None:
    """None when ``part`` is healthy, else why not."""
    return PROBES[part](settings)()
