"""``make docker-engine`` and ``make docker-engine-down``: each step says what it did."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from stack.engine import Engine, base_image, down, install_packages, missing_packages, plugin, start
from stack.layout import Layout


def up(layout: Layout, say: Callable[[str], None] = print) -> Engine:
    """Idempotent: install what is missing, start the engine, make the base image, build the
    Compose plugin; then print the one line that points a shell at it."""
    engine = Engine(layout.stack_dir)
    t0 = time.monotonic()
    packages = missing_packages()
    if packages:
        install_packages(packages)
        say(f"engine    installed {', '.join(packages)} ({time.monotonic() - t0:.0f}s)")
    started = start(engine)
    say(f"engine    dockerd {'started' if started else 'running'} on {engine.socket}")
    client = engine.client_env()
    # The base image (network and dpkg) and the plugin (Go, CPU) do not wait for each other.
    with ThreadPoolExecutor(max_workers=1) as pool:
        building = pool.submit(plugin.ensure, engine.config)
        if base_image.present(client):
            say(f"engine    {base_image.NAME} present")
        else:
            took = base_image.build(engine.home, client)
            say(f"engine    {base_image.NAME} made with debootstrap ({took:.0f}s)")
        took_plugin = building.result()
    version = plugin.pinned_version()
    if took_plugin is None:
        say(f"engine    compose {version} installed")
    else:
        say(f"engine    compose {version} built from the Go module proxy ({took_plugin:.0f}s)")
    exports = " ".join(f"{k}={v}" for k, v in engine.env().items())
    say(f"engine    ready in {time.monotonic() - t0:.0f}s; use it with: export {exports}")
    return engine


def stop(layout: Layout, say: Callable[[str], None] = print) -> None:
    engine = Engine(layout.stack_dir)
    done = down(engine)
    say(f"engine    {'; '.join(done) if done else 'was not running'}")
