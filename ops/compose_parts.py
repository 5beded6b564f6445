"""The compose stack's services as ``make status`` lists parts: from ``docker compose ps``.

The native stack's parts are processes with pid files (``stack.parts``); compose's are
containers, whose state and healthcheck the engine already knows. A one-shot job (migrate,
kafka-auth, register) is healthy once it has exited 0.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from ops.errors import Unreachable


def compose_parts(root: Path) -> list[dict[str, Any]]:
    try:
        done = subprocess.run(
            ["docker", "compose", "ps", "--all", "--format", "json"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (FileNotFoundError, subprocess.TimeoutExpired) as exc:
        raise Unreachable("Docker", "docker compose", str(exc)) from exc
    if done.returncode != 0:
        raise Unreachable("Docker", "docker compose", done.stderr.strip().splitlines()[-1])
    rows = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    if len(rows) == 1 and isinstance(rows[0], list):  # older compose: one JSON array
        rows = rows[0]
    return [_part(row) for row in sorted(rows, key=lambda r: r["Service"])]


def _part(row: dict[str, Any]) -> dict[str, Any]:
    state, health = row.get("State", ""), row.get("Health", "")
    if state == "exited":
        code = row.get("ExitCode", -1)
        reason = None if code == 0 else f"exited with {code}"
    elif state != "running":
        reason = state or "unknown"
    else:
        reason = None if health in ("", "healthy") else health
    published = sorted(
        {
            f"{p['URL']}:{p['PublishedPort']}"
            for p in row.get("Publishers") or ()
            if p.get("PublishedPort")
        }
    )
    return {
        "name": row["Service"],
        "pid": None,
        "where": ", ".join(published) or ("(job)" if state == "exited" else "-"),
        "healthy": reason is None,
        "reason": reason,
        "container": row.get("Name"),
    }
