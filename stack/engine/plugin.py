"""The Compose v2 plugin, built from the Go module in ``stack/engine/compose`` (its go.mod pins
the version and repeats the directives compose's own go.mod needs).

Debian's ``docker-compose`` (1.29) rejects compose.yaml's top-level ``name:``, and no binary
download site is reachable from this kind of machine, but the Go module proxy is: the plugin is
built once (about two minutes on two cores) and installed as
``$DOCKER_CONFIG/cli-plugins/docker-compose``, where the Docker CLI looks for it. No buildx: compose
then uses the engine's classic builder, so the Dockerfile avoids BuildKit-only syntax.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

from stack.health import StackError

MODULE = Path(__file__).parent / "compose"
PACKAGE = "github.com/docker/compose/v5/cmd"
MIN_GO = (1, 26, 8)


def pinned_version(module: Path = MODULE) -> str:
    """The compose version go.mod requires (``v5.6.0``)."""
    match = re.search(r"github\.com/docker/compose/v5 (v\S+)", (module / "go.mod").read_text())
    if match is None:
        raise StackError(f"{module / 'go.mod'} does not require github.com/docker/compose/v5")
    return match.group(1)


def go_binary() -> str:
    """Go's own install first (Debian's golang-go is older than compose needs)."""
    for candidate in (shutil.which("go"), "/usr/local/go/bin/go"):
        if candidate and Path(candidate).exists():
            out = subprocess.run([candidate, "version"], capture_output=True, text=True).stdout
            found = re.search(r"go(\d+)\.(\d+)(?:\.(\d+))?", out)
            version = tuple(int(x or 0) for x in found.groups()) if found else (0, 0, 0)
            if version >= MIN_GO:
                return candidate
    raise StackError(
        f"Compose {pinned_version()} is built with Go >= {'.'.join(map(str, MIN_GO))}, not found "
        "(looked at PATH and /usr/local/go/bin). Docker's own compose plugin needs none."
    )


def installed_version(plugin: Path) -> str | None:
    if not plugin.exists():
        return None
    out = subprocess.run([str(plugin), "version", "--short"], capture_output=True, text=True)
    return out.stdout.strip() or None


def ensure(config: Path) -> float | None:
    """Build and install the plugin under ``config/cli-plugins`` unless the pinned version is
    there; seconds the build took, or None if nothing was done."""
    plugin = config / "cli-plugins" / "docker-compose"
    version = pinned_version()
    if installed_version(plugin) in (version, version.lstrip("v")):
        return None
    go = go_binary()
    t0 = time.monotonic()
    plugin.parent.mkdir(parents=True, exist_ok=True)
    tmp = plugin.with_name(".docker-compose.tmp")
    ldflags = f"-s -w -X github.com/docker/compose/v5/internal.Version={version}"
    done = subprocess.run(
        [go, "build", "-trimpath", f"-ldflags={ldflags}", "-o", str(tmp), PACKAGE],
        cwd=MODULE,
        env={**os.environ, "CGO_ENABLED": "0"},
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise StackError(f"building compose {version} failed:\n{done.stderr[-3000:]}")
    tmp.replace(plugin)
    return time.monotonic() - t0
