"""Kafka header names of an outbox message. The router copies them from outbox columns
(``table.fields.additional.placement``) and adds ``id``; values are UTF-8 strings."""

from __future__ import annotations

from collections.abc import Iterable

EVENT_ID = "id"
EVENT_TYPE = "event_type"
IDEMPOTENCY_KEY = "idempotency_key"
TRACEPARENT = "traceparent"
# The writer schema's version (``schemas/<aggregate>/<EventType>.v<N>.avsc``), as decimal
# digits. The payload's fingerprint says which schema wrote it; this says whether a schema a
# consumer does not know is newer than the ones it does (a producer deployed first: wait for
# the upgrade) or no version of its at all (corrupt: dead-letter). Absent on messages written
# before it existed.
SCHEMA_VERSION = "schema_version"

# Added by the consumers' dead-letter middleware next to the original headers.
DLQ_REASON = "dlq.reason"
DLQ_HANDLER = "dlq.handler"
DLQ_TOPIC = "dlq.topic"
DLQ_PARTITION = "dlq.partition"
DLQ_OFFSET = "dlq.offset"
DLQ_FAILED_AT = "dlq.failed_at"
# Set only on a reduced dead letter (the original could never be written as it was): what
# was left out, and the original value's size in bytes ("null" when it had none).
DLQ_OMITTED = "dlq.omitted"
DLQ_ORIGINAL_SIZE = "dlq.original_size"
DLQ_HEADERS = (
    DLQ_REASON,
    DLQ_HANDLER,
    DLQ_TOPIC,
    DLQ_PARTITION,
    DLQ_OFFSET,
    DLQ_FAILED_AT,
    DLQ_OMITTED,
    DLQ_ORIGINAL_SIZE,
)


def decode_headers(raw: Iterable[tuple[str, bytes | None]]) -> dict[str, str]:
    """Header list as Kafka gives it -> dict of strings; a null value is left out."""
    return {k: v.decode("utf-8", "replace") for k, v in raw if v is not None}


def encode_headers(headers: dict[str, str]) -> list[tuple[str, bytes]]:
    return [(k, v.encode("utf-8")) for k, v in headers.items()]
