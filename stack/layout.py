"""Where the native stack keeps jars, data, pid files and logs: all under ``.stack/``.

Everything below ``.stack/`` is git-ignored. ``clean`` deletes data, pids and logs but keeps the
jar cache so the next ``up`` downloads nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Layout:
    root: Path  # the repository root

    @property
    def stack_dir(self) -> Path:
        return self.root / ".stack"

    @property
    def jars(self) -> Path:
        return self.stack_dir / "jars"

    @property
    def kafka_jars(self) -> Path:
        return self.jars / "kafka"

    @property
    def plugins(self) -> Path:
        return self.jars / "plugins"

    @property
    def pom(self) -> Path:
        return self.root / "stack" / "jars" / "pom.xml"

    @property
    def conf_templates(self) -> Path:
        return self.root / "stack" / "conf"

    @property
    def conf(self) -> Path:
        return self.stack_dir / "conf"

    @property
    def pg(self) -> Path:
        """Postgres' own folder (owned by the ``postgres`` user when run as root)."""
        return self.stack_dir / "pg"

    @property
    def pgdata(self) -> Path:
        return self.pg / "data"

    @property
    def kafka_data(self) -> Path:
        return self.node_data("kafka")

    def node_data(self, node: str) -> Path:
        """A Kafka node's log directory: ``kafka`` alone, ``kafka-1``.. in the HA topology."""
        return self.stack_dir / node / "data"

    @property
    def run(self) -> Path:
        return self.stack_dir / "run"

    @property
    def logs(self) -> Path:
        return self.stack_dir / "logs"

    def pid_file(self, name: str) -> Path:
        return self.run / f"{name}.pid"

    def log_file(self, name: str) -> Path:
        if name == "postgres":
            return self.pg / "postgres.log"
        return self.logs / f"{name}.log"

    def data_dirs(self) -> list[Path]:
        """What ``clean`` removes."""
        return [
            self.pg,
            self.stack_dir / "kafka",
            *sorted(self.stack_dir.glob("kafka-*")),
            self.stack_dir / "prometheus",
            self.run,
            self.logs,
            self.conf,
        ]
