"""``debian:bookworm-slim`` made from Debian's packages, for an engine that cannot pull it.

Every image of compose.yaml is built on this one base, so its layers are shared and one
``docker import`` is all that stands in for a registry. ``debootstrap --variant=minbase`` gives
the same package set as the official slim image; the rest does what that image's build does
(no documentation, man pages or locales, apt's caches cleaned after every install), plus one
thing a registry image cannot know: the host's locally added CA certificates, so that pip and
Maven inside a build trust a TLS-intercepting proxy the host trusts.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO

from stack.health import StackError

NAME = "debian:bookworm-slim"
SUITE = "bookworm"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
LOCAL_CA = Path("/usr/local/share/ca-certificates")

# As the official slim image's /etc/dpkg/dpkg.cfg.d/docker and /etc/apt/apt.conf.d/docker-*.
DPKG_EXCLUDES = """\
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/lintian/*
"""
_CLEAN = '"rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb || true"'
APT_CLEAN = f"""\
DPkg::Post-Invoke {{ {_CLEAN}; }};
APT::Update::Post-Invoke {{ {_CLEAN}; }};
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
Acquire::Languages "none";
APT::AutoRemove::SuggestsImportant "false";
"""


def mirror(sources: Path = Path("/etc/apt")) -> str:
    """The Debian mirror this host's apt uses (builds reach it through the host's network)."""
    texts = [
        p.read_text() for p in sorted(sources.rglob("*.list")) + sorted(sources.rglob("*.sources"))
    ]
    for text in texts:
        for found in re.finditer(r"(?:URIs:|^deb)\s+(\S+)", text, re.M):
            url = found.group(1).rstrip("/")
            if url.endswith("/debian"):
                return url
    return DEFAULT_MIRROR


def sources_list(url: str) -> str:
    """The suites the official image lists: the release, its updates and its security fixes."""
    security = url.replace("/debian", "/debian-security")
    return (
        f"deb {url} {SUITE} main\n"
        f"deb {url} {SUITE}-updates main\n"
        f"deb {security} {SUITE}-security main\n"
    )


def _trim(rootfs: Path) -> None:
    for pattern in ("usr/share/doc/*", "usr/share/man/*", "usr/share/info/*", "var/lib/apt/lists/*",
                    "var/cache/apt/*.bin", "var/cache/apt/archives/*.deb", "var/log/*.log",
                    "var/log/apt/*"):  # fmt: skip
        for path in rootfs.glob(pattern):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
    locales = rootfs / "usr/share/locale"
    for path in locales.iterdir() if locales.exists() else ():
        if path.name != "locale.alias":
            shutil.rmtree(path) if path.is_dir() else path.unlink()


def _run(
    argv: list[str], *, stdin: IO[bytes] | None = None, env: Mapping[str, str] | None = None
) -> None:
    done = subprocess.run(
        argv, stdin=stdin, env=None if env is None else dict(env), capture_output=True, check=False
    )
    if done.returncode != 0:
        out = (done.stdout[-2000:] + done.stderr[-2000:]).decode(errors="replace")
        raise StackError(f"{' '.join(argv[:3])} failed:\n{out}")


def build(workdir: Path, client_env: Mapping[str, str]) -> float:
    """Bootstrap, trim and import the base image; seconds it took. ``workdir`` is scratch."""
    t0 = time.monotonic()
    rootfs = workdir / "rootfs"
    if rootfs.exists():
        shutil.rmtree(rootfs)
    url = mirror()
    _run(["debootstrap", "--variant=minbase", "--include=ca-certificates", SUITE, str(rootfs), url])
    (rootfs / "etc/apt/sources.list").write_text(sources_list(url))
    (rootfs / "etc/dpkg/dpkg.cfg.d/docker").write_text(DPKG_EXCLUDES)
    (rootfs / "etc/apt/apt.conf.d/docker-clean").write_text(APT_CLEAN)
    policy = rootfs / "usr/sbin/policy-rc.d"  # as the official image: no service starts
    policy.write_text("#!/bin/sh\n# an image build starts no service\nexit 101\n")
    policy.chmod(0o755)
    local = sorted(LOCAL_CA.glob("*.crt")) if LOCAL_CA.is_dir() else []
    for cert in local:
        shutil.copy2(cert, rootfs / "usr/local/share/ca-certificates" / cert.name)
    if local:
        _run(["chroot", str(rootfs), "update-ca-certificates"])
    _trim(rootfs)
    tar = subprocess.Popen(
        ["tar", "--numeric-owner", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE
    )
    try:
        _run(
            ["docker", "import", "--change", 'CMD ["bash"]', "-", NAME],
            stdin=tar.stdout,
            env=client_env,
        )
    finally:
        if tar.stdout is not None:
            tar.stdout.close()
        tar.wait()
    shutil.rmtree(rootfs)
    return time.monotonic() - t0


def present(client_env: Mapping[str, str]) -> bool:
    done = subprocess.run(
        ["docker", "image", "inspect", NAME], capture_output=True, env=dict(client_env), check=False
    )
    return done.returncode == 0
