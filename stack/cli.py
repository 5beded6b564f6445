"""``python -m stack``: up, down, status, logs, clean, db, register for the native stack.

Each verb prints what it did in a line or two and exits non-zero with the reason when it fails.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from contract.cli import count, parser_for
from contract.topics import DLQ_PREFIX, ORDER_EVENTS
from stack import connect, dbinit, jvm, kafka_auth, postgres, preflight, private, serve, switch
from stack.engine import verbs as engine_verbs
from stack.health import StackError
from stack.layout import Layout
from stack.parts import Part, app_parts, consumer_groups, stack_parts
from stack.process import tail
from stack.secrets import ensure_env_file
from stack.settings import StackSettings

DEPLOYABLES_WITH_MIGRATIONS = ("producer_app", "consumers")
# Started by make up unless METRICS=0 (Prometheus only when installed, unless METRICS=1:
# stack.preflight); the apps serve /metrics anyway.
METRICS_PARTS = ("exporter", "prometheus")


def _settings(layout: Layout) -> StackSettings:
    return StackSettings(_env_file=layout.root / ".env")


def cmd_apps_up(layout: Layout, settings: StackSettings) -> None:
    private.secure(layout)
    for part in app_parts(layout, settings):
        skipped = preflight.not_started(part.name, settings, running=part.pid() is not None)
        if skipped:
            print(f"{part.name:<9} not started ({skipped})")
            continue
        started, waited = part.up()
        verb = "started" if started else "running"
        print(f"{part.name:<9} {verb}, healthy at {part.where} ({waited:.1f}s, pid {part.pid()})")


def cmd_up(layout: Layout, settings: StackSettings, *, apps: bool = True) -> list[Part]:
    """Start what is not running; return the parts started now (``with`` stops only those).
    ``apps``: the apps follow (``make up``), so their ports and Prometheus are checked too.
    The parts of a stage start together (a KRaft quorum is healthy only once a majority of
    its nodes runs), then each is waited on."""
    t0 = time.monotonic()
    preflight.run(layout, settings, apps=apps)
    if jvm.fetch_jars(layout):
        print(f"jars      fetched into {layout.jars} ({time.monotonic() - t0:.0f}s)")
    private.secure(layout)
    topology = settings.topology
    refuse_other_topology(layout, settings)
    switch.check_and_remember(layout, settings)
    layout.run.mkdir(parents=True, exist_ok=True)
    (layout.run / "topology").write_text(f"{topology.name}\n")
    started_now = []
    for stage in stages(layout, settings):
        launched = [part for part in stage if part.launch()]
        started_now += launched
        for part in stage:
            waited, verb = part.wait(), "started" if part in launched else "running"
            print(
                f"{part.name:<9} {verb}, healthy at {part.where} ({waited:.1f}s, pid {part.pid()})"
            )
        if stage[0].name == "postgres":
            if not launched:  # today's access rules for a server an older `up` started
                postgres.reload_hba(layout, settings)
            cmd_db(layout, settings)
        if stage[0].name.startswith("kafka"):
            cmd_kafka_auth(layout, settings)
    print(f"stack     {topology.name} topology up in {time.monotonic() - t0:.1f}s")
    return started_now


def stages(layout: Layout, settings: StackSettings) -> list[list[Part]]:
    """Postgres; the Kafka nodes; the Connect workers."""
    pg, *rest = stack_parts(layout, settings)
    kafka = [p for p in rest if p.name.startswith("kafka")]
    return [[pg], kafka, [p for p in rest if p not in kafka]]


def other_topology(settings: StackSettings) -> StackSettings:
    other = "single" if settings.stack_topology == "ha" else "ha"
    return settings.model_copy(update={"stack_topology": other})


def refuse_other_topology(layout: Layout, settings: StackSettings) -> None:
    """One topology at a time: both would stream the one replication slot of the one Postgres."""
    other = other_topology(settings)
    running = [p.name for p in stack_parts(layout, other)[1:] if p.pid() is not None]
    if running:
        raise StackError(
            f"the {other.stack_topology} topology runs ({', '.join(running)}); "
            f"`make down` first, then `make up TOPOLOGY={settings.stack_topology}`"
        )


def cmd_with(layout: Layout, settings: StackSettings, command: list[str]) -> int:
    """Run ``command`` with the stack up; stop afterwards only what this call started."""
    started: list[Part] = []
    try:
        started = cmd_up(layout, settings, apps=False)
        cmd_register(layout, settings)
        return subprocess.run(command, cwd=layout.root, check=False).returncode
    finally:
        for part in reversed(started):
            part.halt()
            print(f"{part.name:<9} stopped (started for this run)")


def cmd_kafka_auth(layout: Layout, settings: StackSettings) -> None:
    """Kafka's principals, their ACLs and the event topic (idempotent; stack.kafka_auth)."""
    principals = kafka_auth.apply(settings, consumer_groups(), ORDER_EVENTS, DLQ_PREFIX)
    print(f"kafka     {principals} principals and their ACLs applied")


def cmd_db(layout: Layout, settings: StackSettings) -> None:
    groups = consumer_groups()
    dbinit.bootstrap_roles(settings, groups)
    for deployable in DEPLOYABLES_WITH_MIGRATIONS:
        result = subprocess.run(
            [sys.executable, "-m", deployable, "migrate"],
            cwd=layout.root,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise StackError(f"{deployable} migrations failed:\n{result.stderr[-3000:]}")
    created = dbinit.grant_cdc(settings)
    dbinit.grant_groups(settings, groups)
    print(
        f"database  roles, schemas and migrations applied; publication "
        f"{'created' if created else 'present'}"
    )


def cmd_down(layout: Layout, settings: StackSettings) -> None:
    """Stop everything, whichever topology started it (the other's parts only if they run)."""
    for part in reversed(stack_parts(layout, settings) + app_parts(layout, settings)):
        print(f"{part.name:<9} {'stopped' if part.halt() else 'was not running'}")
    for part in reversed(stack_parts(layout, other_topology(settings))[1:]):
        if part.pid() is not None:
            print(f"{part.name:<9} {'stopped' if part.halt() else 'was not running'}")
    (layout.run / "topology").unlink(missing_ok=True)


def cmd_status(layout: Layout, settings: StackSettings) -> int:
    bad = 0
    for part in stack_parts(layout, settings):
        pid = part.pid()
        reason = part.probe() if pid else "not running"
        bad += reason is not None
        state = "healthy" if reason is None else f"UNHEALTHY: {reason}"
        print(f"{part.name:<9} {state:<10} pid {pid or '-':<8} {part.where}")
    for part in app_parts(layout, settings):
        pid = part.pid()
        if pid is None:
            print(f"{part.name:<9} {'stopped':<10} pid {'-':<8} (make up starts it)")
            continue
        reason = part.probe()
        bad += reason is not None
        state = "healthy" if reason is None else f"UNHEALTHY: {reason}"
        print(f"{part.name:<9} {state:<10} pid {pid:<8} {part.where}")
    if not bad:
        for connector in connect.load_connector_files(layout.root / "connectors"):
            st = connect.status(settings.connect_rest(), connector["name"])
            print(f"connector {st.describe() if st else connector['name'] + ': not registered'}")
            bad += st is None or not st.running
    return 1 if bad else 0


def cmd_register(layout: Layout, settings: StackSettings) -> None:
    for connector in connect.load_connector_files(layout.root / "connectors"):
        t0 = time.monotonic()
        config = connect.for_workers(connector, exactly_once=settings.connect_exactly_once)
        st = connect.register(settings.connect_rest(), config)
        print(f"connector {st.describe()} ({time.monotonic() - t0:.1f}s)")


def cmd_logs(layout: Layout, settings: StackSettings, part: str | None, lines: int) -> int:
    parts = stack_parts(layout, settings) + app_parts(layout, settings)
    if part is not None and part not in {p.name for p in parts}:
        names = ", ".join(p.name for p in parts)
        print(f"error: PART={part!r} is no part of the stack (parts: {names})", file=sys.stderr)
        return 2
    for p in parts:
        if part in (None, p.name):
            print(f"==> {p.log} <==\n{tail(p.log, lines)}\n")
    return 0


def cmd_clean(layout: Layout, settings: StackSettings) -> None:
    cmd_down(layout, settings)
    for path in layout.data_dirs():
        if path.is_symlink():
            shutil.rmtree(path.resolve(), ignore_errors=True)
            path.unlink()
        elif path.exists():
            shutil.rmtree(path)
    print(f"clean     removed data, pids and logs under {layout.stack_dir} (jars kept)")
    for old in postgres.leftovers(layout):
        shutil.rmtree(old, ignore_errors=True)
        print(f"clean     removed {old}, a cluster an earlier clone at this path left")


def _engine_verb(layout: Layout, verb: str) -> int:
    try:
        if verb == "docker-engine":
            engine_verbs.up(layout)
        else:
            engine_verbs.stop(layout)
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser_class = parser_for({"part": "PART"})
    parser = parser_class(prog="python -m stack", description=__doc__)
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="repository root")
    sub = parser.add_subparsers(dest="verb", required=True, parser_class=parser_class)
    verbs = (
        "up",
        "apps",
        "down",
        "addresses",
        "status",
        "clean",
        "db",
        "register",
        "jars",
        "env",
        "kafka-auth",
    )
    for verb in verbs:
        sub.add_parser(verb)
    with_ = sub.add_parser("with", help="run a command with the stack up (-- CMD ...)")
    with_.add_argument("command", nargs=argparse.REMAINDER)
    for verb, what in (
        ("serve", "run PART in the foreground (a container's main process)"),
        ("probe", "check PART's health once (a container's healthcheck)"),
    ):
        sub.add_parser(verb, help=what).add_argument("part", choices=sorted(serve.PARTS))
    sub.add_parser("docker-engine", help="start a private Docker engine (make docker-engine)")
    sub.add_parser("docker-engine-down", help="stop it, leaving nothing running")
    logs = sub.add_parser("logs")
    logs.add_argument("part", nargs="?")
    logs.add_argument("-n", "--lines", type=count(1), default=40)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    os.umask(private.UMASK)  # what the stack writes, no other local user reads
    layout = Layout(args.root.resolve())
    if args.verb == "addresses":  # read by make: nothing else on stdout, no .env written
        settings = _settings(layout)
        print(settings.kafka_bootstrap_servers, settings.connect_url)
        return 0
    # In a container (compose) each service is given its own secrets in its environment and
    # there is no .env to write (see compose.yaml); natively the first run generates it.
    if not os.environ.get("STACK_SECRETS_FROM_ENVIRONMENT") and ensure_env_file(
        layout.root / ".env"
    ):
        print(f"secrets   generated {layout.root / '.env'} (git-ignored)")
    if args.verb == "env":
        return 0
    if args.verb.startswith("docker-engine"):
        return _engine_verb(layout, args.verb)
    if args.verb == "jars":
        fetched = jvm.fetch_jars(layout)
        print(f"jars      {'fetched' if fetched else 'cached'} in {layout.jars}")
        return 0
    settings = _settings(layout)
    try:
        settings.metrics  # noqa: B018 - a bad METRICS= is a bad argument: exit 2, before anything
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        if args.verb == "status":
            return cmd_status(layout, settings)
        if args.verb == "with":
            command = args.command[1:] if args.command[:1] == ["--"] else args.command
            return cmd_with(layout, settings, command)
        if args.verb == "serve":
            serve.serve(layout, settings, args.part)
        if args.verb == "probe":
            reason = serve.probe(settings, args.part)
            print(f"{args.part:<9} {reason or 'healthy'}")
            return 0 if reason is None else 1
        if args.verb == "logs":
            return cmd_logs(layout, settings, args.part, args.lines)
        if args.verb == "up":
            cmd_up(layout, settings)
            return 0
        {
            "apps": cmd_apps_up,
            "down": cmd_down,
            "clean": cmd_clean,
            "db": cmd_db,
            "register": cmd_register,
            "kafka-auth": cmd_kafka_auth,
        }[args.verb](layout, settings)
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


__all__ = ["Part", "main"]
