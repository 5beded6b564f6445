"""``make acls``: every Kafka principal and what it may do, read from the broker (its SCRAM
logins and its ACLs), the super users from the broker's configuration file (the broker
reports ``super.users`` as sensitive and does not show it). What ``stack/kafka_auth.py``
means to grant, as the broker actually holds it.
"""

from __future__ import annotations

import argparse
import json
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

from kafka.admin import (
    ACLFilter,
    ACLOperation,
    ACLPermissionType,
    ACLResourcePatternType,
    ResourcePatternFilter,
    ResourceType,
)

from contract.kafka import KafkaAccess
from ops.kafka_io import admin
from ops.tables import console, legend, table

out = console()
SERVER_PROPERTIES = Path("stack/conf/server.properties")


def super_users(root: Path) -> list[str]:
    """The ``super.users`` of the broker's configuration (``User:`` left out)."""
    text = (root / SERVER_PROPERTIES).read_text()
    found = re.search(r"^super\.users=(.*)$", text, re.M)
    return [u.removeprefix("User:") for u in found[1].split(";")] if found else []


def grants(access: KafkaAccess) -> tuple[list[str], dict[str, dict[str, list[str]]]]:
    """(principals that may log in, principal -> resource -> operations allowed or denied)."""
    anything = ACLFilter(
        principal=None,
        host="*",
        operation=ACLOperation.ANY,
        permission_type=ACLPermissionType.ANY,
        resource_pattern=ResourcePatternFilter(ResourceType.ANY, None, ACLResourcePatternType.ANY),
    )
    with admin(access) as a:
        acls, _ = a.describe_acls(anything)
        logins = sorted(a.describe_user_scram_credentials())
    found: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for acl in acls:
        pattern = acl.resource_pattern
        kind = ResourceType(pattern.resource_type).name.lower()
        prefixed = ACLResourcePatternType(pattern.pattern_type) is ACLResourcePatternType.PREFIXED
        resource = f"{kind} {pattern.resource_name}{'*' if prefixed else ''}"
        operation = ACLOperation(acl.operation).name
        if ACLPermissionType(acl.permission_type) is ACLPermissionType.DENY:
            operation = f"not {operation}"
        found[acl.principal.removeprefix("User:")][resource].append(operation)
    return logins, {p: {r: sorted(ops) for r, ops in rs.items()} for p, rs in found.items()}


def cmd_acls(args: argparse.Namespace, access: KafkaAccess) -> int:
    logins, allowed = grants(access)
    supers = super_users(Path.cwd())
    principals = sorted(set(logins) | set(allowed) | set(supers))
    if args.json:
        report: list[dict[str, Any]] = [
            {
                "principal": p,
                "login": p in logins,
                "super_user": p in supers,
                "may": allowed.get(p, {}),
            }
            for p in principals
        ]
        print(json.dumps(report, indent=2))
        return 0
    rows = table("principal", "login", "resource", "may")
    for p in principals:
        login = "SCRAM" if p in logins else "-"
        if p in supers:
            rows.add_row(p, login, "everything", "super user")
        for i, (resource, ops) in enumerate(sorted(allowed.get(p, {}).items())):
            first = not i and p not in supers
            rows.add_row(p if first else "", login if first else "", resource, ", ".join(ops))
        if p not in supers and not allowed.get(p):
            rows.add_row(p, login, "nothing", "")
    out.print(rows)
    legend(out, {"name*": "every resource whose name starts so", "*": "any resource"})
    return 0
