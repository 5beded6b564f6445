"""Named errors of the wire contract. Consumers dead-letter on these at once: retrying cannot
turn bad bytes into good ones."""

from __future__ import annotations


class ContractError(Exception):
    """Bytes or headers that do not follow the contract."""


class CorruptPayload(ContractError):
    """Not Avro single-object encoding, or a body that does not match its writer schema."""


class UnknownSchema(ContractError):
    """A well-formed header whose fingerprint is in no schema under ``schemas/``."""

    def __init__(self, fingerprint: bytes) -> None:
        super().__init__(f"no schema with fingerprint {fingerprint.hex()}")
        self.fingerprint = fingerprint


class UnknownEventType(ContractError):
    """An event type no schema (or no handler) knows."""

    def __init__(self, event_type: str) -> None:
        super().__init__(f"unknown event type {event_type!r}")
        self.event_type = event_type
