"""Every version of every event schema, loaded once from ``schemas/``.

A file is named ``<EventType>.v<N>.avsc``; its Avro record name ends with ``<EventType>`` and
all versions of one event share that full name, so Avro resolution can map one to the other.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastavro import parse_schema
from fastavro.schema import to_parsing_canonical_form

from contract.errors import ContractError, UnknownEventType, UnknownSchema
from contract.fingerprint import fingerprint64

FILE_NAME = re.compile(r"^(?P<event>[A-Z][A-Za-z0-9]*)\.v(?P<version>[1-9][0-9]*)\.avsc$")
DEFAULT_DIR = Path(__file__).resolve().parent.parent / "schemas"


@dataclass(frozen=True)
class SchemaVersion:
    event_type: str
    version: int
    full_name: str
    raw: dict[str, Any]
    parsed: Any
    canonical: str
    fingerprint: int

    @property
    def fingerprint_bytes(self) -> bytes:
        """The fingerprint as single-object encoding writes it (8 bytes, little-endian)."""
        return self.fingerprint.to_bytes(8, "little")

    @property
    def label(self) -> str:
        return f"{self.event_type} v{self.version}"


class SchemaRepository:
    def __init__(self, versions: list[SchemaVersion]) -> None:
        self._by_fp = {v.fingerprint_bytes: v for v in versions}
        if len(self._by_fp) != len(versions):
            raise ContractError("two schema files have the same fingerprint")
        self._by_type: dict[str, dict[int, SchemaVersion]] = {}
        for v in versions:
            self._by_type.setdefault(v.event_type, {})[v.version] = v

    @classmethod
    def load(cls, directory: Path | None = None) -> SchemaRepository:
        directory = directory or Path(os.environ.get("SCHEMAS_DIR", DEFAULT_DIR))
        versions = []
        for path in sorted(directory.rglob("*.avsc")):
            match = FILE_NAME.match(path.name)
            if not match:
                raise ContractError(f"{path}: name must be <EventType>.v<N>.avsc")
            raw = json.loads(path.read_text())
            parsed = parse_schema(raw)
            if not isinstance(parsed, dict) or parsed.get("type") != "record":
                raise ContractError(f"{path}: an event schema must be an Avro record")
            full_name = str(parsed["name"])
            if full_name.rsplit(".", 1)[-1] != match["event"]:
                raise ContractError(f"{path}: record {full_name} is not {match['event']}")
            canonical = to_parsing_canonical_form(raw)
            versions.append(
                SchemaVersion(
                    match["event"],
                    int(match["version"]),
                    full_name,
                    raw,
                    parsed,
                    canonical,
                    fingerprint64(canonical),
                )
            )
        if not versions:
            raise ContractError(f"no schemas under {directory}")
        return cls(versions)

    def by_fingerprint(self, fingerprint: bytes) -> SchemaVersion:
        try:
            return self._by_fp[fingerprint]
        except KeyError:
            raise UnknownSchema(fingerprint) from None

    def get(self, event_type: str, version: int | None = None) -> SchemaVersion:
        """The given version of ``event_type``, or its latest when ``version`` is None."""
        versions = self._by_type.get(event_type)
        if not versions:
            raise UnknownEventType(event_type)
        if version is None:
            return versions[max(versions)]
        try:
            return versions[version]
        except KeyError:
            raise ContractError(f"{event_type} has no version {version}") from None

    def event_types(self) -> list[str]:
        return sorted(self._by_type)

    def versions(self, event_type: str) -> list[SchemaVersion]:
        return [self._by_type[event_type][v] for v in sorted(self._by_type[event_type])]

    def __iter__(self) -> Iterator[SchemaVersion]:
        return iter(self._by_fp.values())
