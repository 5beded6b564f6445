"""``decode``: bytes -> this deployable's event, and every reason a message cannot become one.

``decode_event`` is the one function, used by this layer (one message at a time) and by the
clean-batch path (``consumer_runtime.clean``): what counts as poison must not depend on which
path a message happened to take. The events are the registration's catalog
(``consumer_runtime.events``).
"""

from __future__ import annotations

from typing import Any

from consumer_runtime.delivery import Delivery, Middleware, Step
from consumer_runtime.errors import PoisonMessage, UnknownEventType
from consumer_runtime.message import Message, Outcome
from consumer_runtime.middleware.chain import layer
from consumer_runtime.registry import Registration
from contract import AvroCodec
from contract import headers as h
from contract.errors import ContractError


def decode_event(codec: AvroCodec, registration: Registration, m: Message) -> Any | None:
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
    events = registration.events
    if event_type not in events.types:
        raise PoisonMessage(str(UnknownEventType(event_type)))
    if event_type not in registration.event_types:
        return None
    reader = codec.repository.get(event_type, events.reader_versions[event_type])
    try:
        _, record = codec.decode(m.value, reader)
    except ContractError as exc:
        raise PoisonMessage(str(exc)) from exc
    event = events.from_record(event_type, record)
    header_id = m.header(h.EVENT_ID)
    if header_id is not None and header_id != str(event.event_id):
        raise PoisonMessage(f"header id {header_id} but payload {event.event_id}")
    return event


def decode(codec: AvroCodec, registration: Registration) -> Middleware:
    @layer("decode")
    def middleware(step: Step) -> Step:
        def run(d: Delivery) -> Outcome:
            event = decode_event(codec, registration, d.message)
            if event is None:
                return Outcome.IGNORED
            d.event = event
            return step(d)

        return run

    return middleware
