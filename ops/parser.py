"""The command line of ``python -m ops``: every verb, its arguments, and the ``make`` variable
each comes from, so a bad value is named as the operator typed it (``contract.cli``).

Values are checked here, before anything connects; what needs the stack to check (an unknown
id, group or topic) is checked by the verb, before it changes anything.
"""

from __future__ import annotations

import argparse
import re

from contract.cli import Parser, count, one_of, parser_for, shown, uuids, when

MAKE_NAMES = {
    "topic": "TOPIC",
    "--from": "FROM",
    "-n": "N",
    "--key": "KEY",
    "group": "GROUP",
    "--group": "GROUP",
    "--max-lag": "MAX_LAG",
    "--ids": "IDS",
    "--since": "SINCE",
    "id": "ID",
    "--action": "ACTION",
    "--to": "TO",
    "--role": "ROLE",
    "--reason": "REASON",
}
# inspect's --from: an offset below this is an offset, above it epoch milliseconds.
EPOCH_MS_FROM = 10**11


def registered_group(text: str) -> str:
    """A consumer group this deployment defines (``consumers.handlers``)."""
    from consumers.handlers import REGISTRY

    return one_of(REGISTRY, "group")(text)


def start(text: str) -> str:
    """inspect's FROM: beginning | latest | an offset | an ISO 8601 time | epoch ms."""
    if text in ("beginning", "latest") or (text.isdigit() and text.isascii()):
        return text
    try:
        when(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"{shown(text)} is not beginning, latest, an offset or a time (ISO 8601 or epoch ms)"
        ) from None
    return text


def position(text: str) -> str:
    """reset-offsets' TO: earliest | latest | an offset | an ISO 8601 time."""
    if text in ("earliest", "latest") or (text.isdigit() and text.isascii()):
        return text
    try:
        when(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"{shown(text)} is not earliest, latest, an offset or an ISO 8601 time"
        ) from None
    return text


def reason(text: str) -> str:
    """Why an operator did something: words, not blank, one line."""
    cleaned = " ".join(text.split())
    if len(cleaned) < 3 or not re.search(r"\w", cleaned):
        raise argparse.ArgumentTypeError(f"{shown(text)}: say why, in words")
    if len(cleaned) > 500:
        raise argparse.ArgumentTypeError("at most 500 characters")
    return cleaned


def build() -> Parser:
    parser_class = parser_for(MAKE_NAMES)
    parser = parser_class(prog="python -m ops", description="The operator's verbs.")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    sub = parser.add_subparsers(dest="verb", required=True, parser_class=parser_class)
    sub.add_parser("topics", help="topics, partitions, message counts, retention, cleanup")
    ins = sub.add_parser("inspect", help="decoded messages of a topic")
    ins.add_argument("topic")
    ins.add_argument("--from", dest="start", default="beginning", type=start)
    ins.add_argument("-n", type=count(1, 100_000), default=20)
    ins.add_argument("--key")
    ins.add_argument("--follow", action="store_true")
    lag = sub.add_parser("lag", help="committed offset, end offset and lag per group")
    lag.add_argument("--group")
    lag.add_argument("--max-lag", type=count(0), default=None, help="exit 1 above it")
    st = sub.add_parser("status", help="processes, connector, groups, replication slot")
    st.add_argument("--wal-warn-bytes", type=count(0), default=256 * 1024 * 1024)
    st.add_argument("--compose", action="store_true", help="the compose stack's containers")
    rp = sub.add_parser("dlq-replay", help="run a group's dead letters through it again")
    rp.add_argument("group", type=registered_group)
    rp.add_argument("--ids", type=uuids, help="comma-separated event ids")
    rc = sub.add_parser("reconcile", help="read models against the orders table; 1 on drift")
    rc.add_argument("--group", type=registered_group)
    rb = sub.add_parser("rebuild", help="empty a group's read model and run it again from Kafka")
    rb.add_argument("group", type=registered_group)
    rb.add_argument("--force", action="store_true", help="even if Kafka dropped older events")
    rb.add_argument("--wait", type=float, default=900, help="seconds to wait for it (0: none)")
    rb.add_argument("--since", type=when, help="start here (ISO 8601) instead of the earliest")
    rb.add_argument(
        "--check", action="store_true", help="only the refusals that need nothing stopped"
    )
    tr = sub.add_parser("trace", help="every hop of an order's events, with its time")
    tr.add_argument("id", help="order id, event id, Idempotency-Key, traceparent or trace id")
    ex = sub.add_parser("exporter", help="Prometheus metrics: replication slot, broker-side lag")
    ex.add_argument("--host", default="127.0.0.1")
    ex.add_argument("--port", type=count(1, 65535), default=None, help="default: EXPORTER_PORT")
    _operator_verbs(sub)
    for p in sub.choices.values():
        p.add_argument("--json", action="store_true", default=argparse.SUPPRESS)
    return parser


def _operator_verbs(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """The verbs people expect from kcat, Kafka UI and Debezium's tutorial."""
    cn = sub.add_parser("connector", help="the connector and its tasks; pause, resume, restart")
    cn.add_argument("--action", default="status", choices=("status", "pause", "resume", "restart"))
    gr = sub.add_parser("groups", help="consumer groups: state, members, assignments, lag")
    gr.add_argument("--group")
    ro = sub.add_parser("reset-offsets", help="move a group's offsets (a dry run unless --apply)")
    ro.add_argument("group", type=registered_group)
    ro.add_argument("--to", required=True, type=position)
    ro.add_argument("--apply", action="store_true", help="do it (default: show what it would)")
    ro.add_argument("--force", action="store_true", help="even where Kafka dropped the history")
    sub.add_parser("acls", help="Kafka principals and what each may do")
    ps = sub.add_parser("psql", help="a psql shell as one of the stack's Postgres roles")
    ps.add_argument("--role", default=None, help="default: the superuser")
    sk = sub.add_parser("dlq-skip", help="settle dead letters without applying them")
    sk.add_argument("group", type=registered_group)
    sk.add_argument("--ids", type=uuids, required=True, help="comma-separated event ids")
    sk.add_argument("--reason", type=reason, required=True, help="why, for the record")
    sub.add_parser("schemas", help="schema versions, fingerprints, what the consumers know")
