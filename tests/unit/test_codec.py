"""The wire contract: single-object encoding bytes, round trips, evolution, named errors."""

from __future__ import annotations

import io
import json
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import fastavro
import pytest
from fastavro.schema import fingerprint as fastavro_fingerprint

from contract import (
    AvroCodec,
    CorruptPayload,
    SchemaRepository,
    UnknownEventType,
    UnknownSchema,
    fingerprint64,
)
from contract.codec import projection
from contract.compat import incompatibilities
from tests.factories import cancelled_record


@pytest.fixture(scope="module")
def repo() -> SchemaRepository:
    return SchemaRepository.load()


@pytest.fixture(scope="module")
def codec(repo: SchemaRepository) -> AvroCodec:
    return AvroCodec(repo)


def placed_record(**overrides: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "event_id": uuid.uuid4(),
        "order_id": uuid.uuid4(),
        "customer_id": "cust-42",
        "currency": "EUR",
        "lines": [{"sku": "SKU-1", "quantity": 2, "unit_price": Decimal("9.99")}],
        "total": Decimal("19.98"),
        "placed_at": datetime(2026, 11, 29, 12, 0, tzinfo=UTC),
        "sales_channel": "mobile",
    }
    record.update(overrides)
    return record


def test_crc64_avro_matches_the_specs_test_vector() -> None:
    # Avro's schema-tests: the canonical form "null" has fingerprint 7195948357588979594.
    assert fingerprint64('"null"') == 7195948357588979594


def test_fingerprint_agrees_with_fastavros_independent_implementation(
    repo: SchemaRepository,
) -> None:
    for version in repo:
        assert version.fingerprint_bytes.hex() == fastavro_fingerprint(
            version.canonical, "CRC-64-AVRO"
        )


def test_single_object_header_bytes(repo: SchemaRepository, codec: AvroCodec) -> None:
    v2 = repo.get("OrderPlaced", 2)
    data = codec.encode(placed_record(), v2)
    assert data[:2] == b"\xc3\x01"
    assert int.from_bytes(data[2:10], "little") == fingerprint64(v2.canonical)


def test_round_trip_keeps_every_field(repo: SchemaRepository, codec: AvroCodec) -> None:
    record = placed_record()
    writer, decoded = codec.decode(codec.encode(record, repo.get("OrderPlaced", 2)))
    assert writer.label == "OrderPlaced v2"
    assert decoded == record


def test_v1_data_read_by_v2_reader_gets_the_default(
    repo: SchemaRepository, codec: AvroCodec
) -> None:
    v1, v2 = repo.get("OrderPlaced", 1), repo.get("OrderPlaced", 2)
    record = placed_record()
    del record["sales_channel"]
    writer, decoded = codec.decode(codec.encode(record, v1), v2)
    assert writer is v1
    assert decoded["sales_channel"] == "web"
    assert decoded["total"] == Decimal("19.98")


def test_v2_data_read_by_v1_reader_drops_the_new_field(
    repo: SchemaRepository, codec: AvroCodec
) -> None:
    v1, v2 = repo.get("OrderPlaced", 1), repo.get("OrderPlaced", 2)
    _, decoded = codec.decode(codec.encode(placed_record(), v2), v1)
    assert "sales_channel" not in decoded
    assert decoded["customer_id"] == "cust-42"


def test_every_shipped_version_is_full_transitive_compatible(repo: SchemaRepository) -> None:
    assert incompatibilities(repo) == []


def test_an_incompatible_version_is_reported(tmp_path: Path, repo: SchemaRepository) -> None:
    for version in repo.versions("OrderPlaced"):
        (tmp_path / f"OrderPlaced.v{version.version}.avsc").write_text(json.dumps(version.raw))
    v3 = json.loads(json.dumps(repo.get("OrderPlaced", 2).raw))
    v3["fields"].append({"name": "coupon", "type": "string"})  # no default: not backward
    (tmp_path / "OrderPlaced.v3.avsc").write_text(json.dumps(v3))
    problems = incompatibilities(SchemaRepository.load(tmp_path), samples=2)
    assert any(p.startswith("OrderPlaced v1 data read as OrderPlaced v3") for p in problems)
    assert any(p.startswith("OrderPlaced v2 data read as OrderPlaced v3") for p in problems)


def test_unknown_fingerprint_is_named(codec: AvroCodec) -> None:
    with pytest.raises(UnknownSchema, match="0102030405060708"):
        codec.decode(b"\xc3\x01" + bytes([1, 2, 3, 4, 5, 6, 7, 8]) + b"\x00")


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "not Avro single-object encoding"),
        (b'{"json": true}', "not Avro single-object encoding"),
        (b"\xc3\x01\x00", "not Avro single-object encoding"),
    ],
)
def test_bytes_without_the_header_are_corrupt(codec: AvroCodec, data: bytes, reason: str) -> None:
    with pytest.raises(CorruptPayload, match=reason):
        codec.decode(data)


def test_truncated_and_padded_bodies_are_corrupt(repo: SchemaRepository, codec: AvroCodec) -> None:
    data = codec.encode(placed_record(), repo.get("OrderPlaced", 2))
    with pytest.raises(CorruptPayload, match="does not decode"):
        codec.decode(data[:-5])
    with pytest.raises(CorruptPayload, match="trailing bytes"):
        codec.decode(data + b"\x00\x00")


def test_reading_as_another_event_type_is_refused(repo: SchemaRepository, codec: AvroCodec) -> None:
    data = codec.encode(placed_record(), repo.get("OrderPlaced", 2))
    with pytest.raises(CorruptPayload, match="cannot be read as OrderCancelled"):
        codec.decode(data, repo.get("OrderCancelled"))


def test_unknown_event_type_is_named(repo: SchemaRepository) -> None:
    with pytest.raises(UnknownEventType, match="'OrderShipped'"):
        repo.get("OrderShipped")


def _resolved(data: bytes, writer: Any, reader: Any) -> dict[str, Any]:
    """What Avro schema resolution yields (fastavro, resolving), the projection's oracle."""
    record = fastavro.schemaless_reader(io.BytesIO(data[10:]), writer.parsed, reader.parsed)
    assert isinstance(record, dict)
    return record


def test_every_writer_reader_pair_decodes_as_schema_resolution_would(
    repo: SchemaRepository, codec: AvroCodec
) -> None:
    """The codec reads a body with the writer's schema alone and drops fields when that is
    all resolution would do; every shipped pair must come out as resolution's result."""
    samples = {
        "OrderPlaced": [placed_record(item_count=2), placed_record(item_count=None)],
        "OrderCancelled": [cancelled_record(uuid.uuid4())],
    }
    pairs = 0
    for event_type in repo.event_types():
        for writer in repo.versions(event_type):
            for reader in repo.versions(event_type):
                for record in samples[event_type]:
                    data = codec.encode(record, writer)
                    assert codec.decode(data, reader)[1] == _resolved(data, writer, reader)
                    pairs += 1
    assert pairs >= 10


def test_projection_only_where_resolution_only_drops_fields(repo: SchemaRepository) -> None:
    v1, v2, v3 = (repo.get("OrderPlaced", n).raw for n in (1, 2, 3))
    assert projection(v3, v2) == tuple(f["name"] for f in v2["fields"])
    assert projection(v2, v2) == tuple(f["name"] for f in v2["fields"])
    assert projection(v1, v2) is None  # v2's sales_channel comes from its default
    retyped = json.loads(json.dumps(v3))
    retyped["fields"][2]["type"] = ["null", "string"]  # customer_id: a union now
    assert projection(retyped, v2) is None
    renamed = {**v3, "name": "OrderWasPlaced"}
    assert projection(renamed, v2) is None
