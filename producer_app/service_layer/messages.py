"""What travels with every event a request causes, next to the event itself."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

TRACEPARENT = re.compile(r"^00-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}$")


def new_traceparent() -> str:
    """A fresh W3C trace context (version 00, sampled) for requests that bring none."""
    return f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"


@dataclass(frozen=True)
class MessageContext:
    """Copied into every outbox row of the unit of work, and so into the Kafka headers."""

    idempotency_key: str | None = None
    traceparent: str | None = None
