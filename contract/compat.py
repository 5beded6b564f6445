"""Schema evolution check: FULL_TRANSITIVE compatibility between all versions of an event.

Every version must read data written by every other version, older and newer: backward (new
consumers read old events, including a replay of the topic from the start) and forward (old
consumers keep working while producers roll out a new version first). Producers and consumers
deploy independently, so either side may move first; "transitive" because a topic holds every
version ever written. In practice: add fields only with defaults, never remove a field without a
default, never change a type except by Avro's promotions.

The check is empirical, with Avro's own resolution rules: records generated from each writer
schema are encoded and decoded with each reader schema.
"""

from __future__ import annotations

from fastavro.utils import generate_many

from contract.codec import AvroCodec
from contract.schemas import SchemaRepository

SAMPLES = 20


def incompatibilities(repository: SchemaRepository, samples: int = SAMPLES) -> list[str]:
    """One line per (writer, reader) pair that cannot be resolved; empty when compatible."""
    codec = AvroCodec(repository)
    problems = []
    for event_type in repository.event_types():
        versions = repository.versions(event_type)
        for writer in versions:
            records = list(generate_many(writer.parsed, samples))
            for reader in versions:
                if reader is writer:
                    continue
                for record in records:
                    try:
                        codec.decode(codec.encode(record, writer), reader)
                    except Exception as exc:  # any resolution failure is the finding
                        problems.append(f"{writer.label} data read as {reader.label}: {exc}")
                        break
    return problems
