"""CRC-64-AVRO, the fingerprint that names a schema in single-object encoding. Its own module
because both the schemas (each version's fingerprint) and the codec (the header of every
message) need it, and neither should import the other for it."""

from __future__ import annotations

_EMPTY = 0xC15D213AA4D7A795


def _table() -> list[int]:
    table = []
    for i in range(256):
        fp = i
        for _ in range(8):
            fp = (fp >> 1) ^ (_EMPTY & -(fp & 1))
        table.append(fp)
    return table


_TABLE = _table()


def fingerprint64(canonical_form: str) -> int:
    """CRC-64-AVRO of a schema's Parsing Canonical Form (Avro spec, "Schema Fingerprints")."""
    fp = _EMPTY
    for byte in canonical_form.encode("utf-8"):
        fp = (fp >> 8) ^ _TABLE[(fp ^ byte) & 0xFF]
    return fp
