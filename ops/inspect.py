"""``inspect``: messages of a topic with partition, offset, timestamp, key, headers and the value
decoded through the shared codec (event type, schema version, fields). A value that does not
decode is shown as hex with the reason, never hidden; a dead letter shows why, by whom, from
where."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from kafka import KafkaConsumer, TopicPartition

from contract import AvroCodec
from contract import headers as h
from contract.cli import BadArgument
from contract.errors import ContractError
from contract.kafka import KafkaAccess
from ops.kafka_io import consumer, partitions


def _plain(value: Any) -> Any:
    """Avro-decoded values -> JSON-friendly ones."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, uuid.UUID | Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


@dataclass
class Shown:
    topic: str
    partition: int
    offset: int
    timestamp: str
    key: str | None
    headers: dict[str, str]
    event_type: str | None = None
    schema_version: int | None = None
    fields: dict[str, Any] | None = None
    json_value: Any = None
    undecodable_hex: str | None = None
    reason: str | None = None
    dead_letter: dict[str, str] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


def describe(m: Any, codec: AvroCodec) -> Shown:
    headers = h.decode_headers(m.headers or ())
    shown = Shown(
        m.topic,
        m.partition,
        m.offset,
        datetime.fromtimestamp(m.timestamp / 1000, UTC).isoformat(timespec="milliseconds"),
        m.key.decode("utf-8", "replace") if m.key is not None else None,
        headers,
    )
    if h.DLQ_REASON in headers:
        shown.dead_letter = {
            "reason": headers[h.DLQ_REASON],
            "handler": headers.get(h.DLQ_HANDLER, ""),
            "origin": f"{headers.get(h.DLQ_TOPIC)}[{headers.get(h.DLQ_PARTITION)}]"
            f"@{headers.get(h.DLQ_OFFSET)}",
            "failed_at": headers.get(h.DLQ_FAILED_AT, ""),
        }
    value: bytes | None = m.value
    if value is None:
        shown.reason = "no value (tombstone)"
        return shown
    try:
        writer, record = codec.decode(value)
        shown.event_type, shown.schema_version = writer.event_type, writer.version
        shown.fields = _plain(record)
        return shown
    except ContractError as exc:
        reason = str(exc)
    try:
        shown.json_value = json.loads(value)  # heartbeats, Connect's own topics
        return shown
    except ValueError:
        shown.undecodable_hex = value[:256].hex()
        shown.reason = reason
        return shown


def start_offsets(
    c: KafkaConsumer, parts: list[TopicPartition], start: str, n: int
) -> dict[TopicPartition, int]:
    """beginning | latest (the last n of each partition) | <offset> | <ISO time or epoch ms>."""
    begin, end = c.beginning_offsets(parts), c.end_offsets(parts)
    if start == "beginning":
        return dict(begin)
    if start == "latest":
        return {tp: max(begin[tp], end[tp] - n) for tp in parts}
    if start.isdigit() and int(start) < 10**11:  # an offset, not epoch milliseconds
        return {tp: min(max(int(start), begin[tp]), end[tp]) for tp in parts}
    ms = int(start) if start.isdigit() else int(_time(start).timestamp() * 1000)
    found = c.offsets_for_times({tp: ms for tp in parts})
    return {tp: found[tp].offset if found.get(tp) else end[tp] for tp in parts}


def out_of_range(
    start: str, offsets: dict[TopicPartition, int], end: dict[TopicPartition, int]
) -> None:
    """An offset past every partition's end, or a time to come, names nothing to show: a bad
    argument, not an empty answer (with FOLLOW=1 it is where to wait from)."""
    if start in ("beginning", "latest"):
        return
    if start.isdigit() and int(start) < 10**11:
        if all(int(start) >= end[tp] for tp in end):
            ends = ", ".join(f"{tp.partition}: {e}" for tp, e in sorted(end.items()))
            raise BadArgument(f"FROM={start} is past the end of every partition (ends {ends})")
        return
    ms = int(start) if start.isdigit() else int(_time(start).timestamp() * 1000)
    if ms > time.time() * 1000:
        raise BadArgument(f"FROM={start} is in the future: no message was written then")


def _time(text: str) -> datetime:
    found = datetime.fromisoformat(text)
    return found if found.tzinfo else found.replace(tzinfo=UTC)


def messages(
    bootstrap: KafkaAccess,
    topic: str,
    codec: AvroCodec,
    *,
    start: str = "beginning",
    n: int = 20,
    key: str | None = None,
    follow: bool = False,
    stop: Callable[[], bool] = lambda: False,
) -> Iterator[Shown]:
    with consumer(bootstrap) as c:
        parts = partitions(c, topic)
        c.assign(parts)
        offsets = start_offsets(c, parts, start, n)
        end = c.end_offsets(parts)
        if not follow:
            out_of_range(start, offsets, end)
        for tp, off in offsets.items():
            c.seek(tp, off)
        shown, idle_since = 0, time.monotonic()
        while not stop():
            batch = c.poll(timeout_ms=300)
            records = sorted(
                (m for ms in batch.values() for m in ms),
                key=lambda m: (m.timestamp, m.partition, m.offset),
            )
            for m in records:
                if key is not None and (m.key or b"").decode("utf-8", "replace") != key:
                    continue
                yield describe(m, codec)
                shown += 1
                if shown >= n and not follow:
                    return
            if records:
                idle_since = time.monotonic()
            caught_up = all(c.position(tp) >= end[tp] for tp in parts)
            if not follow and (caught_up or time.monotonic() - idle_since > 5):
                return
