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
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

# One chain per clone (iptables allows 28 characters): two clones' suites on one machine, each
# on its own ports, must not flush each other's rules.
_CLONE = str(Path(__file__).resolve().parent.parent).encode()
CHAIN = "OUTBOX_CHAOS_" + hashlib.blake2s(_CLONE, digest_size=4).hexdigest()
MARK = "0x4f42"
CONSUMERS_GID = 4242
# The HA topology's brokers as the failover chaos run starts them (``as_broker``): node i runs
# with group id BROKER_GID + i, and the connections it opens carry mark BROKER_MARK + i, so
# that one broker can be cut off from the other two while every client still reaches it.
BROKER_GID = 4250
BROKER_MARK = 0x4F50
NODES = (1, 2, 3)


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
    # A broker's connections are marked by the broker that opened them (their first packet),
    # never by the one answering: both ends of a broker-to-broker link run under a broker gid.
    for node in NODES:
        _iptables(
            "-A", CHAIN, "-m", "conntrack", "--ctstate", "NEW",
            "-m", "owner", "--gid-owner", str(BROKER_GID + node),
            "-j", "CONNMARK", "--set-mark", hex(BROKER_MARK + node),
        )  # fmt: skip


def remove() -> None:
    while _iptables("-D", "OUTPUT", "-j", CHAIN, check=False).returncode == 0:
        pass
    _iptables("-F", CHAIN, check=False)
    _iptables("-X", CHAIN, check=False)


def _drops(port: int, mark: str = MARK) -> list[list[str]]:
    return [
        ["-p", "tcp", direction, str(port), "-m", "connmark", "--mark", mark, "-j", "DROP"]
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


def isolation_rules(node: int, ports: dict[int, list[int]]) -> list[list[str]]:
    """The rules cutting broker ``node`` off from the others (``ports``: every node's client
    and controller ports): what it opens to their ports, and what they open to its own."""
    own = ports[node]
    others = {n: p for n, p in ports.items() if n != node}
    mine = hex(BROKER_MARK + node)
    rules = [rule for p in others.values() for port in p for rule in _drops(port, mine)]
    rules += [rule for n in others for port in own for rule in _drops(port, hex(BROKER_MARK + n))]
    return rules


def unfollowed_rules(node: int, ports: dict[int, int]) -> list[list[str]]:
    """The rules keeping every other broker from fetching from broker ``node`` (``ports``:
    every node's client port, which is also the inter-broker listener): only what they open
    to it. Its controller port and its own fetches from them stay open, so the quorum stands
    and nothing is fenced; the partitions it leads lose their followers."""
    return [
        rule
        for other in ports
        if other != node
        for rule in _drops(ports[node], hex(BROKER_MARK + other))
    ]


@contextmanager
def dropping(rules: list[list[str]]) -> Iterator[None]:
    """Every packet ``rules`` match dropped inside the block (as in a real partition)."""
    try:
        for rule in rules:
            _iptables("-A", CHAIN, *rule)
        yield
    finally:
        for rule in rules:
            _iptables("-D", CHAIN, *rule, check=False)


def isolated(node: int, ports: dict[int, list[int]]) -> AbstractContextManager[None]:
    """Broker ``node`` cannot reach the other brokers, nor they it, inside the block; every
    client still reaches all of them."""
    return dropping(isolation_rules(node, ports))


def as_broker(node: int, command: list[str]) -> list[str]:
    """``command`` run with broker ``node``'s own group id, so that ``isolated`` finds it."""
    return ["setpriv", f"--regid={BROKER_GID + node}", "--clear-groups", "--", *command]


def as_consumers(command: list[str]) -> list[str]:
    """``command`` run with the consumers' own group id, so that partitions can find it."""
    return ["setpriv", f"--regid={CONSUMERS_GID}", "--clear-groups", "--", *command]
