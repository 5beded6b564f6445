"""Prometheus: Debian's ``prometheus`` binary, its config rendered from the settings (every
endpoint of the pipeline), the rules of ``monitoring/``.

Natively every job is scraped on 127.0.0.1; compose's container renders the same config with
each job at the service of its name (``STACK_TARGETS_BY_SERVICE``), so both stacks scrape the
same jobs from one piece of code.
"""

from __future__ import annotations

import shutil
from typing import Any

import yaml

from stack.health import StackError
from stack.layout import Layout
from stack.secrets import write_private
from stack.settings import StackSettings

SCRAPE_INTERVAL = "10s"
# Prometheus answers any origin's cross-origin requests by default (``--web.cors.origin=.*``):
# any web page a local user opens could read every metric through their browser. The
# pattern (fully anchored) matches no origin, so no Access-Control-Allow-Origin is ever sent;
# Prometheus' own UI is same-origin and needs none.
NO_CORS = r"--web.cors.origin=[^\x00-\x{10FFFF}]"


def jobs(settings: StackSettings) -> dict[str, int]:
    """Job name -> port: what Prometheus scrapes (the first node's, where there are several:
    ``targets`` has them all)."""
    return {job: int(found[0].rsplit(":", 1)[1]) for job, found in targets(settings).items()}


def targets(settings: StackSettings) -> dict[str, list[str]]:
    """Job name -> every ``host:port`` it scrapes: each Kafka node and Connect worker of the
    topology (compose: each at its service's name)."""
    topology = settings.topology

    def at(service: str, port: int) -> str:
        return f"{service if settings.stack_targets_by_service else '127.0.0.1'}:{port}"

    return {
        "api": [at("api", settings.api_port)],
        "consumers": [at("consumers", settings.consumer_metrics_port)],
        "connect": [at(w.name, w.metrics_port) for w in topology.workers],
        "kafka": [at(b.name, b.metrics_port) for b in topology.brokers],
        "exporter": [at("exporter", settings.exporter_port)],
        "prometheus": [at("prometheus", settings.prometheus_port)],
    }


def config(layout: Layout, settings: StackSettings) -> dict[str, Any]:
    return {
        "global": {"scrape_interval": SCRAPE_INTERVAL, "evaluation_interval": SCRAPE_INTERVAL},
        "rule_files": [str(layout.root / "monitoring" / "alerts.yml")],
        "scrape_configs": [
            {"job_name": job, "static_configs": [{"targets": found}]}
            for job, found in targets(settings).items()
        ],
    }


def binary() -> str:
    found = shutil.which("prometheus")
    if found is None:
        raise StackError(
            "prometheus not found: apt-get install -y prometheus (Debian's package), "
            "or start without it: make up METRICS=0"
        )
    return found


def command(layout: Layout, settings: StackSettings) -> list[str]:
    path = layout.conf / "prometheus.yml"
    write_private(path, yaml.safe_dump(config(layout, settings), sort_keys=False))
    return [
        binary(),
        f"--config.file={path}",
        f"--storage.tsdb.path={layout.stack_dir / 'prometheus'}",
        "--storage.tsdb.retention.time=2d",
        f"--web.listen-address={settings.stack_bind_host}:{settings.prometheus_port}",
        NO_CORS,
    ]
