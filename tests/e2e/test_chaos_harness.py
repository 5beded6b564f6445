"""The disk-full fault, the half of "overlap: partition from kafka + disk full" that once made a
whole chaos run fail, injected while Kafka is slow to answer: the harness reaches Kafka through
a proxy that holds every new connection for its first 20 seconds (as a broker busy restarting,
or a partition's other half, would), so the fault's lag reads fail to bootstrap at first. The
harness must wait that out and report a recovery, not give up with "Kafka is not reachable".
Real Postgres (a full tablespace), real Kafka behind the proxy, the real consumers."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from chaos import crash, faults
from chaos.disk import can_mount
from stack.layout import Layout
from stack.parts import app_parts
from stack.settings import StackSettings
from tests.conftest import ROOT

pytestmark = pytest.mark.e2e


class SlowProxy:
    """A TCP proxy on 127.0.0.1 that answers nothing until ``slow_until``, then forwards."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.slow_until = 0.0
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        time.sleep(max(0.0, self.slow_until - time.monotonic()))
        try:
            upstream = socket.create_connection(self.upstream, timeout=10)
        except OSError:
            client.close()
            return
        for a, b in ((client, upstream), (upstream, client)):
            threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self.server.close()


@pytest.fixture
def slow_kafka(stack_settings: StackSettings) -> Iterator[SlowProxy]:
    proxy = SlowProxy(("127.0.0.1", stack_settings.kafka_port))
    yield proxy
    proxy.close()


@pytest.mark.skipif(not can_mount(), reason="a full tablespace needs root (mount)")
def test_disk_full_waits_out_a_kafka_slow_to_answer(
    stack_settings: StackSettings, apps_running: None, slow_kafka: SlowProxy
) -> None:
    layout = Layout(ROOT)
    # The harness's own clients bootstrap through the proxy; the broker's metadata then names
    # its real address, as a slow broker's would.
    settings = stack_settings.model_copy(
        update={"kafka_bootstrap_servers": f"127.0.0.1:{slow_kafka.port}"}
    )
    consumers = next(p for p in app_parts(layout, stack_settings) if p.name == "consumers")
    ctx = faults.Context(
        layout, settings, layout.run / "unused.fault", layout.run / "unused.overrun", consumers,
        hold=1.0,
    )  # fmt: skip
    slow_kafka.slow_until = time.monotonic() + 20
    recovered = crash.disk_full(ctx)
    assert recovered >= 15, "the lag was read before Kafka answered: the proxy held nothing"
    assert faults.healthy(ctx)
