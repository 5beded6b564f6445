"""``make schemas``: every event schema version in ``schemas/``, its fingerprint (the 8 bytes
after ``C3 01`` in each message, as hex), the version the producer writes and the one the
consumers read into, and which versions the running consumers know: each consumer process
reports the schemas it loaded at start on its metrics port
(``outbox_consumer_schema_known``), so a version added to ``schemas/`` since they started
shows as unknown to them until they are deployed again (docs/data-over-time.md, Schema
rollouts).
"""

from __future__ import annotations

import argparse
import json
import re
import urllib.error
import urllib.request
from collections import defaultdict
from typing import Any

from contract import SchemaRepository
from contract.kafka import KafkaAccess
from ops.tables import console, legend, table

out = console()
KNOWN = re.compile(
    r"^outbox_consumer_schema_known\{(?P<labels>[^}]*)\}\s+(?P<value>[0-9.e+-]+)$", re.M
)


def known_by_consumers(url: str) -> dict[str, set[str]] | None:
    """Fingerprint hex -> the groups whose live processes know it; None when the consumers'
    metrics port does not answer (they do not run)."""
    try:
        with urllib.request.urlopen(url, timeout=5) as r:  # noqa: S310 - loopback URL
            text = r.read().decode()
    except (urllib.error.URLError, OSError):
        return None
    found: dict[str, set[str]] = defaultdict(set)
    for m in KNOWN.finditer(text):
        labels = dict(re.findall(r'(\w+)="([^"]*)"', m["labels"]))
        if float(m["value"]) > 0:
            found[labels["fingerprint"]].add(labels["group"])
    return found


def versions(known: dict[str, set[str]] | None, groups: list[str]) -> list[dict[str, Any]]:
    from consumers.events import READER_VERSIONS

    repo = SchemaRepository.load()
    rows = []
    for event_type in repo.event_types():
        newest = repo.get(event_type).version
        for v in repo.versions(event_type):
            fp = v.fingerprint_bytes.hex()
            rows.append(
                {
                    "event_type": event_type,
                    "version": v.version,
                    "fingerprint": fp,
                    "producer_writes": v.version == newest,
                    "consumers_read_as": READER_VERSIONS.get(event_type) == v.version,
                    "known_by": None if known is None else sorted(known.get(fp, set())),
                    "unknown_to": None
                    if known is None
                    else sorted(set(groups) - known.get(fp, set())),
                }
            )
    return rows


def cmd_schemas(args: argparse.Namespace, _: KafkaAccess) -> int:
    from consumers.handlers import REGISTRY
    from stack.settings import StackSettings

    url = f"http://127.0.0.1:{StackSettings().consumer_metrics_port}/metrics"
    known = known_by_consumers(url)
    rows = versions(known, sorted(REGISTRY))
    if args.json:
        print(json.dumps({"consumers_answered": known is not None, "versions": rows}, indent=2))
        return 0
    shown = table("event", "v", "fingerprint", "role", "running consumers know it")
    for r in rows:
        role = ", ".join(
            name for name, on in (("W", r["producer_writes"]), ("R", r["consumers_read_as"])) if on
        )
        if r["known_by"] is None:
            knows = "?"
        elif not r["unknown_to"]:
            knows = "all groups"
        else:
            knows = f"[red]not {', '.join(r['unknown_to'])}[/]"
        shown.add_row(r["event_type"], str(r["version"]), r["fingerprint"], role or "-", knows)
    out.print(shown)
    legend(out, {"W": "the producer writes it", "R": "the consumers read it into"})
    if known is None:
        out.print(f"[yellow]the consumers' metrics at {url} do not answer: are they running?[/]")
    return 0
