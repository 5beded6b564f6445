"""A Docker engine of the project's own, for a machine that has none (``make docker-engine``).

Debian's ``docker.io`` started by hand on a private socket under ``.stack/docker``, with host
netfilter left alone (``--iptables=false --ip-masq=false --ip-forward=false``): the chaos suite
partitions the consumers with its own rules, and the native stack must not notice an engine
beside it. Nothing is ever pulled: the one base image, ``debian:bookworm-slim``, is made from
Debian's packages (``stack.engine.base_image``) and every other image is built by compose from
it; the Compose v2 plugin is built from the Go module this folder pins (``stack.engine.plugin``).

Clients reach it only when asked, through the two variables ``Engine.env()`` names: without
them ``docker info`` still fails, so the Makefile's default ``STACK`` and the testcontainers
tests behave as on a machine without Docker. A user who already has Docker needs none of this.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from stack.health import StackError
from stack.process import running_pid, spawn, stop, tail

# Unix socket paths are limited to 107 bytes; the engine's own sockets nest below its exec root.
_SOCKET_PATH_MAX = 100
APT_PACKAGES = {"dockerd": "docker.io", "debootstrap": "debootstrap"}


@dataclass(frozen=True)
class Engine:
    """Where the private engine keeps everything: ``stack_dir/docker`` (git-ignored)."""

    stack_dir: Path

    @property
    def home(self) -> Path:
        return self.stack_dir / "docker"

    @property
    def data_root(self) -> Path:
        return self.home / "data"

    @property
    def _digest(self) -> str:
        return hashlib.blake2s(str(self.home).encode(), digest_size=4).hexdigest()

    @property
    def exec_root(self) -> Path:
        """Runtime state (containerd's sockets among it) in /run, short whatever the clone's
        path, one folder per clone."""
        return Path("/run") / f"outbox-docker-{self._digest}"

    @property
    def bridge(self) -> str:
        """The default network's bridge, this clone's own (not docker0: another clone's engine,
        or a real Docker, may have that one)."""
        return f"outbox{self._digest[:8]}"

    @property
    def subnets(self) -> tuple[str, str]:
        """(the bridge's address, the pool compose's networks are cut from): 10.N.0.0/16 with
        N from the clone's path, so two clones' engines do not route the same addresses."""
        n = 20 + int(self._digest, 16) % 200
        return f"10.{n}.0.1/24", f"10.{n}.128.0/17"

    @property
    def socket(self) -> Path:
        inside = self.home / "docker.sock"
        return inside if len(str(inside)) <= _SOCKET_PATH_MAX else self.exec_root / "docker.sock"

    @property
    def pid_file(self) -> Path:
        return self.home / "dockerd.pid"

    @property
    def log(self) -> Path:
        return self.home / "dockerd.log"

    @property
    def config(self) -> Path:
        """``DOCKER_CONFIG``: holds the Compose plugin (``cli-plugins/docker-compose``)."""
        return self.home / "config"

    @property
    def host(self) -> str:
        return f"unix://{self.socket}"

    def env(self) -> dict[str, str]:
        """What a client needs to use this engine, and nothing else."""
        return {"DOCKER_HOST": self.host, "DOCKER_CONFIG": str(self.config)}

    def client_env(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """``base`` (this process's environment by default) pointed at this engine."""
        return {**(os.environ if base is None else base), **self.env()}

    def answers(self) -> bool:
        return ping(self.socket)

    def pid(self) -> int | None:
        return running_pid(self.pid_file)


def ping(path: Path, timeout: float = 2.0) -> bool:
    """True if a Docker engine answers ``GET /_ping`` on the unix socket ``path``."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(str(path))
            sock.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            reply = sock.recv(256)
    except OSError:
        return False
    return reply.startswith(b"HTTP/1.") and b" 200 " in reply.split(b"\r\n", 1)[0]


def missing_packages(which: Callable[[str], str | None] = shutil.which) -> list[str]:
    """Debian packages whose command this machine lacks."""
    return sorted({pkg for cmd, pkg in APT_PACKAGES.items() if which(cmd) is None})


def install_packages(packages: list[str]) -> None:
    """``apt-get install`` them without letting their maintainer scripts start a daemon."""
    if os.geteuid() != 0:
        raise StackError(
            f"the engine needs {', '.join(packages)}; as root: "
            f"apt-get install -y --no-install-recommends {' '.join(packages)}"
        )
    policy = Path("/usr/sbin/policy-rc.d")
    made_policy = not policy.exists()
    if made_policy:
        policy.write_text(
            "#!/bin/sh\n# make docker-engine: no service starts at install\nexit 101\n"
        )
        policy.chmod(0o755)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    try:
        for argv in (
            ["apt-get", "update", "-q"],
            ["apt-get", "install", "-y", "-q", "--no-install-recommends", *packages],
        ):
            done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                raise StackError(f"{' '.join(argv)} failed:\n{done.stdout[-2000:]}{done.stderr}")
    finally:
        if made_policy:
            policy.unlink()


def start(engine: Engine, timeout: float = 60.0) -> bool:
    """Start dockerd unless it answers; True if started now."""
    if engine.answers():
        return False
    if os.geteuid() != 0:
        raise StackError("dockerd needs root here (rootless Docker is not set up by this project)")
    engine.home.mkdir(parents=True, exist_ok=True)
    engine.home.chmod(0o700)
    stale = engine.pid()
    if stale is not None:
        raise StackError(f"dockerd (pid {stale}) runs but does not answer on {engine.socket}")
    engine.socket.unlink(missing_ok=True)
    address, pool = engine.subnets
    _bridge_up(engine.bridge, address)
    spawn(
        [
            "dockerd",
            f"--data-root={engine.data_root}",
            f"--exec-root={engine.exec_root}",
            f"--pidfile={engine.home / 'dockerd.own.pid'}",
            f"--host={engine.host}",
            # Host netfilter and forwarding stay as they are (the chaos suite owns its rules);
            # containers then reach each other and published ports, but not the outside.
            "--iptables=false",
            "--ip6tables=false",
            "--ip-masq=false",
            "--ip-forward=false",
            f"--bridge={engine.bridge}",
            f"--default-address-pool=base={pool},size=24",
            "--storage-driver=overlay2",
        ],
        pid_file=engine.pid_file,
        log_file=engine.log,
    )
    deadline = time.monotonic() + timeout
    while not engine.answers():
        if engine.pid() is None:
            raise StackError(
                f"dockerd exited while starting; end of {engine.log}:\n{tail(engine.log)}"
            )
        if time.monotonic() > deadline:
            raise StackError(f"dockerd not answering after {timeout:.0f}s:\n{tail(engine.log)}")
        time.sleep(0.2)
    engine.socket.chmod(0o600)
    return True


def _ip(*args: str) -> None:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise StackError(f"ip {' '.join(args)}: {done.stderr.strip()}")


def _bridge_up(name: str, address: str) -> None:
    """The bridge dockerd's default network uses (``--bridge`` wants it to exist)."""
    if not Path(f"/sys/class/net/{name}").exists():
        _ip("link", "add", "name", name, "type", "bridge")
        _ip("addr", "add", address, "dev", name)
    _ip("link", "set", name, "up")


def down(engine: Engine) -> list[str]:
    """Stop dockerd (it stops its containers first) and what it leaves behind; what was done."""
    done = []
    if stop(engine.pid_file, timeout=90):
        done.append("dockerd stopped")
    if Path(f"/sys/class/net/{engine.bridge}").exists():
        _ip("link", "del", engine.bridge)
        done.append(f"bridge {engine.bridge} removed")
    if engine.exec_root.exists():
        shutil.rmtree(engine.exec_root, ignore_errors=True)
    return done
