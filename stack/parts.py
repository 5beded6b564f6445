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
from contract.kafka import KafkaAccess
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
from stack.rest import ConnectRest
from stack.secrets import own_secrets
from stack.settings import StackSettings
from stack.topology import Broker, Worker


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
        started = self.launch()
        return started, self.wait()

    def launch(self) -> bool:
        """Start unless running, without waiting (the nodes of a KRaft quorum are healthy only
        once a majority of them runs: they are launched together, then waited on)."""
        if self.pid() is not None:
            return False
        if self.address is not None and tcp_probe(*self.address)() is None:
            host, port = self.address
            raise StackError(
                f"{self.name}: port {host}:{port} is taken by a process this stack did not "
                f"start (a system service, another clone's stack?); stop it or change the "
                f"port in .env"
            )
        self.start()
        return True

    def wait(self) -> float:
        """Seconds until healthy; raises naming the part and the end of its log."""
        return wait_healthy(
            self.name,
            self.probe,
            timeout=self.timeout,
            log_file=self.log,
            is_running=lambda: self.pid() is not None,
        )


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
    """Postgres, the topology's Kafka nodes, its Connect workers: in the order they start."""
    kafka, connect = kafka_parts(layout, settings), connect_parts(layout, settings)
    return [postgres_part(layout, settings), *kafka, *connect]


def postgres_part(layout: Layout, settings: StackSettings) -> Part:
    def start_pg() -> None:
        postgres.initdb(layout, settings)
        postgres.start(layout, settings)

    return Part(
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


def kafka_parts(
    layout: Layout,
    settings: StackSettings,
    wrap: Callable[[Broker, list[str]], list[str]] = (lambda _, cmd: cmd),
) -> list[Part]:
    """One part per KRaft node; each probed alone (its own address only). ``wrap``: the
    command as the chaos run starts it (under a group id of the node's own)."""
    admin = settings.kafka_as("admin")

    def part(b: Broker) -> Part:
        return background_part(
            layout,
            b.name,
            b.address,
            ("127.0.0.1", b.port),
            90,
            lambda: wrap(b, jvm.kafka_command(layout, settings, b)),
            kafka_probe(KafkaAccess(b.address, admin.username, admin.password)),
            before=lambda: jvm.format_kafka_storage(layout, settings, b),
        )

    return [part(b) for b in settings.topology.brokers]


def connect_parts(layout: Layout, settings: StackSettings) -> list[Part]:
    """One part per Connect worker, each probed on its own REST address."""
    rest = settings.connect_rest()

    def part(w: Worker) -> Part:
        return background_part(
            layout,
            w.name,
            w.url,
            ("127.0.0.1", w.port),
            180,
            lambda: jvm.connect_command(layout, settings, w),
            connect_probe(ConnectRest(w.url, rest.user, rest.password)),
            env=lambda: jvm.connect_env(settings),
        )

    return [part(w) for w in settings.topology.workers]


# What each app's process environment may hold (they also read their settings from .env).
API_SECRETS = ("APP_DB_PASSWORD", "API_KEY_PEPPER")
CONSUMER_SECRETS = ("CONSUMER_DB_SECRET", "KAFKA_CONSUMERS_SECRET")
EXPORTER_SECRETS = ("MONITOR_DB_PASSWORD", "KAFKA_MONITOR_PASSWORD")


def addresses(settings: StackSettings) -> dict[str, str]:
    """Where the topology's brokers and workers are, for an app this launcher starts: in the HA
    topology every client is given the three brokers, whatever .env says for one."""
    return {
        "STACK_TOPOLOGY": settings.stack_topology,
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "CONNECT_URL": settings.connect_url,
    }


def consumers_env(layout: Layout, settings: StackSettings | None = None) -> dict[str, str]:
    """The consumers' environment: their own secrets, the brokers' addresses, and their
    metrics directory under .stack/run (emptied at each start; a temporary one would be left
    behind by a SIGKILL)."""
    env = own_secrets(os.environ, keep=CONSUMER_SECRETS)
    if settings is not None:
        env |= addresses(settings)
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
        env=lambda: {**consumers_env(layout, settings), **extra},
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
        env=lambda: own_secrets(os.environ, keep=EXPORTER_SECRETS) | addresses(settings),
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
