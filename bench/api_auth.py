"""What API keys cost a request: ``python -m bench.api_auth`` (after ``make up``).

Two API servers run side by side from the same code and database, one as deployed (every
``/orders`` call checks its bearer key: HMAC-SHA256, then a cached primary-key read) and one
whose key check is replaced by a constant client (FastAPI's ``dependency_overrides``: no
header parsing, no hash, no lookup): the API without authentication. One client places
orders on each in alternating rounds (ABBA, so neither is always first), one at a time, so
both meet the same machine; p50 and p99 of ``POST /orders`` for each, and each server's own
CPU per request (its process's, from /proc: what the machine's load does not change). Then
the per-check cost of the keyed hash against the
password hashes a key could have been stored with (scrypt at its interactive setting,
PBKDF2-SHA256 at OWASP's 600,000 iterations; bcrypt and argon2 are not dependencies, and
scrypt is the same kind of deliberately slow, memory-hard hash).
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx

from producer_app.bootstrap import bootstrap
from producer_app.entrypoints.api import create_app
from producer_app.entrypoints.auth import current_client
from producer_app.settings import ProducerSettings

CLIENT = "bench-auth"


def serve(port: int, authenticated: bool) -> None:
    """One API server (a child process of the measurement)."""
    import uvicorn

    producer = bootstrap(ProducerSettings())
    app = create_app(producer)
    if not authenticated:
        app.dependency_overrides[current_client] = lambda: CLIENT
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cpu_seconds(pid: int) -> float:
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()  # noqa: SIM115
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def _server(authenticated: bool) -> Iterator[tuple[str, int]]:
    port = _port()
    argv = [sys.executable, "-m", "bench.api_auth", "--serve", str(port)]
    proc = subprocess.Popen([*argv, "--auth" if authenticated else "--no-auth"])
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=2).is_success:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError(f"the API on {url} did not start")
            time.sleep(0.3)
        yield url, proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _key() -> str:
    producer = bootstrap(ProducerSettings())
    try:
        assert producer.keys is not None, "API_KEY_PEPPER is not set (make env)"
        return producer.keys.issue(CLIENT)
    finally:
        producer.close()


def _round(client: httpx.Client, url: str, n: int, latencies: list[float]) -> None:
    body = {
        "customer_id": "cust-bench-auth",
        "currency": "EUR",
        "lines": [{"sku": "SKU-0003", "quantity": 2, "unit_price_cents": 1500}],
    }
    for _ in range(n):
        started = time.perf_counter()
        answer = client.post(f"{url}/orders", json=body)
        latencies.append(time.perf_counter() - started)
        if answer.status_code != 201:
            raise RuntimeError(f"{url}: {answer.status_code} {answer.text[:200]}")


def _quantile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q * 100) - 1]


def latency(rounds: int, per_round: int, warmup: int = 100) -> dict[str, dict[str, float]]:
    key = _key()
    seen: dict[str, list[float]] = {"with key": [], "without": []}
    cpu = dict.fromkeys(seen, 0.0)
    with _server(True) as authed, _server(False) as open_:
        servers = {"with key": authed, "without": open_}
        with httpx.Client(headers={"Authorization": f"Bearer {key}"}, timeout=30) as client:
            for url, _ in servers.values():
                _round(client, url, warmup, [])
            for i in range(rounds):
                for name in list(servers) if i % 2 == 0 else list(reversed(servers)):
                    url, pid = servers[name]
                    before = _cpu_seconds(pid)
                    _round(client, url, per_round, seen[name])
                    cpu[name] += _cpu_seconds(pid) - before
    return {
        name: {
            "requests": len(values),
            "p50_ms": round(_quantile(values, 0.50) * 1000, 2),
            "p99_ms": round(_quantile(values, 0.99) * 1000, 2),
            "server_cpu_us_per_request": round(cpu[name] / len(values) * 1e6),
        }
        for name, values in seen.items()
    }


def _per_call_us(call: Callable[[], object], seconds: float = 1.0) -> float:
    n, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds or n < 3:
        call()
        n += 1
    return (time.perf_counter() - started) / n * 1e6


def hash_costs() -> dict[str, float]:
    """Microseconds of one check of one key, on this machine."""
    key, pepper, salt = os.urandom(43), os.urandom(32), os.urandom(16)
    return {
        "hmac_sha256_us": round(_per_call_us(lambda: hmac.new(pepper, key, hashlib.sha256)), 2),
        "scrypt_n16384_r8_us": round(
            _per_call_us(lambda: hashlib.scrypt(key, salt=salt, n=2**14, r=8, p=1))
        ),
        "pbkdf2_sha256_600k_us": round(
            _per_call_us(lambda: hashlib.pbkdf2_hmac("sha256", key, salt, 600_000))
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--auth", action=argparse.BooleanOptionalAction, help=argparse.SUPPRESS)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--per-round", type=int, default=300)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, bool(args.auth))
        return
    result = {"post_orders": latency(args.rounds, args.per_round), "hash": hash_costs()}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
