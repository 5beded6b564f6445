"""Bytes -> this deployable's event, and every reason a message cannot become one.

One function, used by the ``decode`` middleware (one message at a time, on the isolated path)
and by the clean-batch path (``consumers.runtime.clean``): what counts as poison must not
depend on which path a message happened to take.
"""

from __future__ import annotations

from consumers.events import EVENT_TYPES, READER_VERSIONS, Event, from_record
from consumers.runtime.errors import PoisonMessage, UnknownEventType
from consumers.runtime.message import Message
from consumers.runtime.registry import Registration
from contract import AvroCodec
from contract import headers as h
from contract.errors import ContractError


def decode_event(codec: AvroCodec, registration: Registration, m: Message) -> Event | None:
    """The event ``m`` carries, resolved to its reader schema; None when it is a known event
    type this handler does not subscribe to. Raises ``PoisonMessage`` for a tombstone, bytes
    that are not single-object Avro, an unknown schema or event type, a body that does not
    decode, or headers (``event_type``, ``id``) that contradict the payload."""
    if m.value is None:
        raise PoisonMessage("message has no value (tombstone)")
    try:
        writer = codec.writer_of(m.value)
    except ContractError as exc:
        raise PoisonMessage(str(exc)) from exc
    event_type = writer.event_type
    declared = m.header(h.EVENT_TYPE)
    if declared is not None and declared != event_type:
        raise PoisonMessage(f"header event_type {declared!r} but written as {event_type}")
    if event_type not in EVENT_TYPES:
        raise PoisonMessage(str(UnknownEventType(event_type)))
    if event_type not in registration.event_types:
        return None
    reader = codec.repository.get(event_type, READER_VERSIONS[event_type])
    try:
        _, record = codec.decode(m.value, reader)
    except ContractError as exc:
        raise PoisonMessage(str(exc)) from exc
    event = from_record(event_type, record)
    header_id = m.header(h.EVENT_ID)
    if header_id is not None and header_id != str(event.event_id):
        raise PoisonMessage(f"header id {header_id} but payload {event.event_id}")
    return event
