"""Avro single-object encoding, as the Avro specification defines it.

``C3 01`` marker, the 8-byte little-endian CRC-64-AVRO fingerprint of the writer schema's
Parsing Canonical Form, then the Avro binary body. The message says which schema wrote it, so
no registry server is needed: any spec-conforming library with the schema file can decode it.
"""

from __future__ import annotations

import io
import json
from typing import Any

import fastavro

from contract.errors import CorruptPayload
from contract.schemas import SchemaRepository, SchemaVersion

MARKER = b"\xc3\x01"
HEADER_SIZE = len(MARKER) + 8


def single_object_header(fingerprint: int) -> bytes:
    return MARKER + fingerprint.to_bytes(8, "little")


def projection(writer: dict[str, Any], reader: dict[str, Any]) -> tuple[str, ...] | None:
    """See ``AvroCodec._projection``: the reader's field names, or None."""
    if _full_name(writer) != _full_name(reader):
        return None
    declared = {f["name"]: json.dumps(f["type"], sort_keys=True) for f in writer["fields"]}
    names = []
    for field in reader["fields"]:
        if declared.get(field["name"]) != json.dumps(field["type"], sort_keys=True):
            return None
        names.append(field["name"])
    return tuple(names)


def _full_name(schema: dict[str, Any]) -> str:
    name = str(schema["name"])
    return name if "." in name or not schema.get("namespace") else f"{schema['namespace']}.{name}"


class AvroCodec:
    """Encode records with a given writer schema; decode any known writer into a reader schema.

    Decoding resolves writer to reader (Avro schema resolution): a v1 message read with the v2
    reader gets v2's default for the added field, and a v2 message read with v1 drops it.
    """

    def __init__(self, repository: SchemaRepository) -> None:
        self._repository = repository
        self._projections: dict[tuple[int, int], tuple[str, ...] | None] = {}

    @property
    def repository(self) -> SchemaRepository:
        return self._repository

    def encode(self, record: dict[str, Any], writer: SchemaVersion) -> bytes:
        out = io.BytesIO()
        out.write(single_object_header(writer.fingerprint))
        fastavro.schemaless_writer(out, writer.parsed, record)
        return out.getvalue()

    def writer_of(self, data: bytes) -> SchemaVersion:
        """The schema that wrote ``data`` (raises ``CorruptPayload`` or ``UnknownSchema``)."""
        if len(data) < HEADER_SIZE or data[:2] != MARKER:
            raise CorruptPayload(
                f"not Avro single-object encoding (starts {data[:HEADER_SIZE].hex() or 'empty'})"
            )
        return self._repository.by_fingerprint(data[2:HEADER_SIZE])

    def decode(
        self, data: bytes, reader: SchemaVersion | None = None
    ) -> tuple[SchemaVersion, dict[str, Any]]:
        """Return the writer schema and the record, resolved to ``reader`` when given."""
        writer = self.writer_of(data)
        if reader is not None and reader.event_type != writer.event_type:
            raise CorruptPayload(
                f"written as {writer.event_type}, cannot be read as {reader.event_type}"
            )
        body = io.BytesIO(data[HEADER_SIZE:])
        keep = self._projection(writer, reader) if reader is not None else None
        resolve = reader.parsed if reader is not None and keep is None else None
        try:
            record = fastavro.schemaless_reader(body, writer.parsed, resolve)
        except (EOFError, ValueError, IndexError, UnicodeDecodeError, TypeError) as exc:
            raise CorruptPayload(f"{writer.label}: body does not decode: {exc!r}") from exc
        if body.tell() != len(data) - HEADER_SIZE:
            raise CorruptPayload(
                f"{writer.label}: {len(data) - HEADER_SIZE - body.tell()} "
                "trailing bytes after the record"
            )
        if not isinstance(record, dict):
            raise CorruptPayload(f"{writer.label}: not a record")
        if keep is not None:
            record = {name: record[name] for name in keep}
        return writer, record

    def _projection(self, writer: SchemaVersion, reader: SchemaVersion) -> tuple[str, ...] | None:
        """The reader's field names when resolving ``writer`` to ``reader`` only drops fields
        (each reader field is in the writer, declared identically): the body is then read
        with the writer's schema alone and the extra fields dropped, which is what resolution
        yields, at two thirds of its cost (fastavro resolves per record). None: resolve."""
        key = (writer.fingerprint, reader.fingerprint)
        if key not in self._projections:
            self._projections[key] = projection(writer.raw, reader.raw)
        return self._projections[key]
