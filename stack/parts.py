"""The parts of the native stack, each able to start, stop, report and probe itself.

``up`` starts them in order and waits for each to be healthy before the next (Connect needs
Kafka, the DB bootstrap needs Postgres); ``down`` stops them in reverse order.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from contract.groups import CONSUMER_GROUPS
from stack import jvm, monitoring, postgres
from stack.health import (
    Probe,
    StackError,
    connect_probe,
    groups_probe,
    http_probe,
    kafka_probe,
    postgres_probe,
    tcp_probe,
    text_probe,
    wait_healthy,
)
from stack.layout import Layout
from stack.process import running_pid, spawn, stop
from stack.secrets import own_secrets
from stack.settings import StackSettings


@dataclass(frozen=True)
class Part:
    name: str
    where: str
    address: tuple[str, int] | None  # a port it listens on, checked free before starting
    log: Path
    timeout: float
    pid: Callable[[], int | None]
    start: Callable[[], None]
    halt: Callable[[], bool]
    probe: Probe

    def up(self) -> tuple[bool, float]:
        """Start unless running; wait healthy. Returns (started now, seconds to healthy)."""
        started = self.pid() is None
        if started:
            if self.address is not None and tcp_probe(*self.address)() is None:
                host, port = self.address
                raise StackError(
                    f"{self.name}: port {host}:{port} is taken by a process this stack did not "
                    f"start (a system service, another clone's stack?); stop it or change the "
                    f"port in .env"
                )
            self.start()
        waited = wait_healthy(
            self.name,
            self.probe,
            timeout=self.timeout,
            log_file=self.log,
            is_running=lambda: self.pid() is not None,
        )
        return started, waited


def background_part(
    layout: Layout,
    name: str,
    where: str,
    address: tuple[str, int] | None,
    timeout: float,
    command: Callable[[], list[str]],
    probe: Probe,
    *,
    env: Callable[[], dict[str, str]] | None = None,
    before: Callable[[], object] | None = None,
) -> Part:
    """A process the launcher owns: spawned in its own session with a pid file and a log."""
    pid_file, log = layout.pid_file(name), layout.log_file(name)

    def start() -> None:
        if before is not None:
            before()
        spawn(
            command(), pid_file=pid_file, log_file=log, env=env() if env else None, cwd=layout.root
        )

    return Part(
        name,
        where,
        address,
        log,
        timeout,
        lambda: running_pid(pid_file),
        start,
        lambda: stop(pid_file, timeout=30),
        probe,
    )


def stack_parts(layout: Layout, settings: StackSettings) -> list[Part]:
    def start_pg() -> None:
        postgres.initdb(layout, settings)
        postgres.start(layout, settings)

    pg = Part(
        "postgres",
        f"{settings.postgres_host}:{settings.postgres_port}",
        (settings.postgres_host, settings.postgres_port),
        layout.log_file("postgres"),
        60,
        lambda: postgres.pid(layout),
        start_pg,
        lambda: postgres.stop(layout),
        postgres_probe(settings.admin_dsn("postgres")),
    )
    kafka = background_part(
        layout,
        "kafka",
        settings.kafka_bootstrap_servers,
        ("127.0.0.1", settings.kafka_port),
        90,
        lambda: jvm.kafka_command(layout, settings),
        kafka_probe(settings.kafka_as("admin")),
        before=lambda: jvm.format_kafka_storage(layout, settings),
    )
    connect = background_part(
        layout,
        "connect",
        settings.connect_url,
        ("127.0.0.1", settings.connect_port),
        180,
        lambda: jvm.connect_command(layout, settings),
        connect_probe(settings.connect_rest()),
        env=lambda: jvm.connect_env(settings),
    )
    return [pg, kafka, connect]


# What each app's process environment may hold (they also read their settings from .env).
API_SECRETS = ("APP_DB_PASSWORD", "API_KEY_PEPPER")
CONSUMER_SECRETS = ("CONSUMER_DB_SECRET", "KAFKA_CONSUMERS_SECRET")
EXPORTER_SECRETS = ("MONITOR_DB_PASSWORD", "KAFKA_MONITOR_PASSWORD")


def consumers_env(layout: Layout) -> dict[str, str]:
    """The consumers' environment: their own secrets, and their metrics directory under
    .stack/run (emptied at each start; a temporary one would be left behind by a SIGKILL)."""
    env = own_secrets(os.environ, keep=CONSUMER_SECRETS)
    env["PROMETHEUS_MULTIPROC_DIR"] = str(layout.run / "consumers-metrics")
    return env


def consumer_groups() -> list[str]:
    """The groups declared in ``contract/groups.py``, which the consumers' handlers match."""
    return sorted(CONSUMER_GROUPS)


def consumers_part(
    layout: Layout,
    settings: StackSettings,
    *,
    env: Mapping[str, str] | None = None,
    wrap: Callable[[list[str]], list[str]] = list,
) -> Part:
    """Every group's consumers, supervised by ``python -m consumers run-all``. ``env``: added
    to their environment (``make chaos``'s fault files, a test's schema directory); ``wrap``:
    the command run inside another (``make chaos`` runs it under a group id of its own)."""
    extra = dict(env or {})
    return background_part(
        layout,
        "consumers",
        "groups " + ", ".join(consumer_groups()),
        None,
        60,
        lambda: wrap([sys.executable, "-m", "consumers", "run-all"]),
        groups_probe(settings.kafka_as("admin"), consumer_groups),
        env=lambda: {**consumers_env(layout), **extra},
    )


def app_parts(layout: Layout, settings: StackSettings) -> list[Part]:
    """The Python deployables ``make up`` runs next to the stack (``--apps``)."""
    api_url = f"http://127.0.0.1:{settings.api_port}"
    api = background_part(
        layout,
        "api",
        f"{api_url}/docs",
        ("127.0.0.1", settings.api_port),
        30,
        lambda: [sys.executable, "-m", "producer_app", "serve"],
        http_probe(f"{api_url}/health"),
        env=lambda: own_secrets(os.environ, keep=API_SECRETS),
    )
    consumers = consumers_part(layout, settings)
    exporter_url = f"http://127.0.0.1:{settings.exporter_port}/metrics"
    exporter = background_part(
        layout,
        "exporter",
        exporter_url,
        ("127.0.0.1", settings.exporter_port),
        30,
        lambda: [sys.executable, "-m", "ops", "exporter"],
        text_probe(exporter_url),
        env=lambda: own_secrets(os.environ, keep=EXPORTER_SECRETS),
    )
    prom_url = f"http://127.0.0.1:{settings.prometheus_port}"
    prometheus = background_part(
        layout,
        "prometheus",
        prom_url,
        ("127.0.0.1", settings.prometheus_port),
        60,
        lambda: monitoring.command(layout, settings),
        text_probe(f"{prom_url}/-/ready"),
        env=lambda: own_secrets(os.environ),
    )
    return [api, consumers, exporter, prometheus]
