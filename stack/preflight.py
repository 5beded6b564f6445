"""Before ``make up`` starts anything: every prerequisite checked at once, and all that are
missing named together (Java, Maven when the jars are not cached yet, the Postgres server
binaries, each port already taken and by which process), so a fresh machine needs one round
of fixes, not one per failed start.

Prometheus is optional: without it the stack comes up with one warning saying how to add it;
``METRICS=1`` makes it required, ``METRICS=0`` leaves it (and the exporter) out.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from stack import jvm, monitoring, postgres
from stack.health import StackError
from stack.layout import Layout
from stack.settings import StackSettings

PROMETHEUS_MISSING = (
    "prometheus not found: the stack comes up without it (no scraping, no alerts); "
    "apt-get install -y prometheus, then make up again (METRICS=1 makes it required, "
    "METRICS=0 silences this)"
)


@dataclass(frozen=True)
class Findings:
    missing: list[str]  # each stops make up
    warnings: list[str]

    def raise_if_missing(self) -> None:
        if self.missing:
            raise StackError(
                "make up cannot start; fix these first (nothing was started):\n"
                + "\n".join(f"  - {m}" for m in self.missing)
            )


def run(layout: Layout, settings: StackSettings, *, apps: bool) -> None:
    """``make up``'s first step: the warnings printed, then every missing prerequisite raised
    at once (``StackError``), before anything starts."""
    from stack.parts import app_parts, stack_parts

    parts = stack_parts(layout, settings) + (app_parts(layout, settings) if apps else [])
    found = check(layout, settings, running={p.name for p in parts if p.pid()}, apps=apps)
    for warning in found.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    found.raise_if_missing()


def not_started(part: str, settings: StackSettings, *, running: bool) -> str | None:
    """Why ``make up`` leaves an app part out, or None to start it."""
    if part in ("exporter", "prometheus") and settings.metrics == "off":
        return "METRICS=0"
    auto = part == "prometheus" and not running and settings.metrics == "auto"
    if auto and _check(monitoring.binary):
        return "not installed; METRICS=1 makes it required"
    return None


def _check(probe: Callable[[], object]) -> str | None:
    try:
        probe()
        return None
    except StackError as exc:
        return str(exc)


def ports(settings: StackSettings, *, apps: bool) -> dict[str, int]:
    """Part -> each port it will listen on (the JVMs' metrics agents too), for every Kafka node
    and Connect worker of the topology."""
    topology = settings.topology
    found = {"postgres": settings.postgres_port}
    for b in topology.brokers:
        found |= {
            b.name: b.port,
            f"{b.name} controller": b.controller_port,
            f"{b.name} metrics": b.metrics_port,
        }
    for w in topology.workers:
        found |= {w.name: w.port, f"{w.name} metrics": w.metrics_port}
    if apps:
        found |= {
            "api": settings.api_port,
            "consumers": settings.consumer_metrics_port,
            "exporter": settings.exporter_port,
            "prometheus": settings.prometheus_port,
        }
    return found


def check(
    layout: Layout,
    settings: StackSettings,
    *,
    running: set[str],
    apps: bool = True,
    owner: Callable[[int], str | None] | None = None,
) -> Findings:
    """What would stop ``make up``. ``running``: the parts already up (their ports are
    theirs); ``owner``: port -> who listens on it (``listener``), None when free."""
    owner = owner or listener
    topology = settings.topology
    jvms = {b.name for b in topology.brokers} | {w.name for w in topology.workers}
    missing = [
        m
        for m in (
            None if jvms <= running else _check(jvm.java_binary),
            None if jvm.jars_present(layout) else _maven(),
            None if "postgres" in running else _check(_postgres_binaries),
        )
        if m
    ]
    for part, port in ports(settings, apps=apps).items():
        if part.split()[0] in running:
            continue
        if part in ("exporter", "prometheus") and settings.metrics == "off":
            continue
        taken = owner(port)
        if taken:
            missing.append(
                f"port 127.0.0.1:{port} ({part}) is taken by {taken}; stop it or set another "
                "port in .env"
            )
    warnings = []
    if apps and settings.metrics != "off" and "prometheus" not in running:
        found = _check(monitoring.binary)
        if found and settings.metrics == "required":
            missing.append("prometheus not found (METRICS=1): apt-get install -y prometheus")
        elif found:
            warnings.append(PROMETHEUS_MISSING)
    return Findings(missing, warnings)


def _postgres_binaries() -> None:
    found = postgres.find_bin_dir()
    if not (found / "initdb").exists():
        raise StackError(
            f"PostgreSQL server binaries not found in {found} (PG_BIN): "
            "apt-get install -y postgresql-15, or set PG_BIN to their folder"
        )


def _maven() -> str | None:
    if shutil.which("mvn") is None:
        return "Maven not found (it fetches the jars once): apt-get install -y maven"
    return None


def listener(port: int) -> str | None:
    """Who listens on TCP ``port`` (any address): ``pid N (command line)``, or a sentence
    saying it is taken by a process this user cannot see; None when nobody does."""
    inodes = _listening_inodes(port)
    if not inodes:
        return None
    wanted = {f"socket:[{i}]" for i in inodes}
    for fd_dir in Path("/proc").glob("[0-9]*/fd"):
        if wanted & _links(fd_dir):
            pid = int(fd_dir.parent.name)
            return f"pid {pid} ({_command(pid)})"
    return "a process this user cannot see (try: ss -ltnp)"


def _links(fd_dir: Path) -> set[str]:
    """What a process's open files point at (empty when it is gone or not ours to read)."""
    found = set()
    try:
        for fd in fd_dir.iterdir():
            try:
                found.add(str(fd.readlink()))
            except OSError:
                continue  # closed meanwhile (the listing's own descriptor, say)
    except OSError:
        pass
    return found


def _listening_inodes(port: int) -> set[str]:
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                found.add(inode)
    return found


def _command(pid: int) -> str:
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return "?"
    text = " ".join(a.decode("utf-8", "replace") for a in argv if a)
    return text if len(text) <= 100 else text[:97] + "..."
