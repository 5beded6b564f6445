"""Network partitions between the consumers and one dependency, with netfilter.

The chaos run starts the consumers with a group id of their own (``setpriv --regid``, still
root otherwise). Every connection they open is marked (the ``owner`` match on their group,
then ``CONNMARK``), and a partition drops every packet of the marked connections to or from
one port, in both directions, while everyone else (Debezium, the API, the checker) keeps
talking to the same server. Packets vanish, as in a real partition: nothing is refused, the
clients find out by their own timeouts.

Why netfilter rather than a network namespace or a TCP proxy: Kafka tells its clients to
connect to the address it advertises (127.0.0.1:9092), so a proxy or a namespace would only
cut the bootstrap connection unless Kafka advertised a second listener for the chaos run;
matching the consumers' own packets cuts exactly their connections, old and new, on the real
path, and needs no change to the stack. It needs root and the ``iptables`` package (the
kernel's nf_tables with the xtables owner and connmark matches).
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# One chain per clone (iptables allows 28 characters): two clones' suites on one machine, each
# on its own ports, must not flush each other's rules.
_CLONE = str(Path(__file__).resolve().parent.parent).encode()
CHAIN = "OUTBOX_CHAOS_" + hashlib.blake2s(_CLONE, digest_size=4).hexdigest()
MARK = "0x4f42"
CONSUMERS_GID = 4242


def available() -> str | None:
    """None if partitions can be made here, else why not."""
    if shutil.which("iptables") is None:
        return "iptables is not installed (apt-get install -y iptables)"
    probe = subprocess.run(["iptables", "-L", "OUTPUT", "-n"], capture_output=True, text=True)
    if probe.returncode != 0:
        return f"iptables does not work here: {probe.stderr.strip()}"
    return None


def _iptables(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(["iptables", *args], capture_output=True, text=True)
    if check and done.returncode != 0:
        raise RuntimeError(f"iptables {' '.join(args)}: {done.stderr.strip()}")
    return done


def install() -> None:
    """The chain that marks the consumers' connections; no packet is dropped yet."""
    remove()
    _iptables("-N", CHAIN)
    _iptables("-I", "OUTPUT", "-j", CHAIN)
    _iptables(
        "-A", CHAIN, "-m", "owner", "--gid-owner", str(CONSUMERS_GID),
        "-j", "CONNMARK", "--set-mark", MARK,
    )  # fmt: skip


def remove() -> None:
    while _iptables("-D", "OUTPUT", "-j", CHAIN, check=False).returncode == 0:
        pass
    _iptables("-F", CHAIN, check=False)
    _iptables("-X", CHAIN, check=False)


def _drops(port: int) -> list[list[str]]:
    return [
        ["-p", "tcp", direction, str(port), "-m", "connmark", "--mark", MARK, "-j", "DROP"]
        for direction in ("--dport", "--sport")
    ]


@contextmanager
def partitioned(port: int) -> Iterator[None]:
    """The consumers cannot reach ``port`` (nor hear from it) inside the block."""
    rules = _drops(port)
    for rule in rules:
        _iptables("-A", CHAIN, *rule)
    try:
        yield
    finally:
        for rule in rules:
            _iptables("-D", CHAIN, *rule, check=False)


def as_consumers(command: list[str]) -> list[str]:
    """``command`` run with the consumers' own group id, so that partitions can find it."""
    return ["setpriv", f"--regid={CONSUMERS_GID}", "--clear-groups", "--", *command]
