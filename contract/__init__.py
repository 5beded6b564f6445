"""The wire contract shared by ``producer_app`` and ``consumers`` (neither imports the other).

- ``codec``: Avro single-object encoding (``C3 01`` + CRC-64-AVRO fingerprint + binary body);
  ``fingerprint``: the CRC-64-AVRO both it and the schemas use.
- ``schemas``: every version of every event schema, loaded once from ``schemas/``.
- ``headers``: the Kafka header names the Outbox Event Router writes.
- ``errors``: named errors for bytes that cannot be decoded.
"""

from contract.codec import AvroCodec, single_object_header
from contract.errors import ContractError, CorruptPayload, UnknownEventType, UnknownSchema
from contract.fingerprint import fingerprint64
from contract.schemas import SchemaRepository, SchemaVersion

__all__ = [
    "AvroCodec",
    "ContractError",
    "CorruptPayload",
    "SchemaRepository",
    "SchemaVersion",
    "UnknownEventType",
    "UnknownSchema",
    "fingerprint64",
    "single_object_header",
]
