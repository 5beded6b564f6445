"""The HTTP API's request bodies and headers: what a client may send, validated before any
service runs (a 422 that names the field)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Header
from pydantic import BaseModel, ConfigDict, Field

from producer_app.domain import model

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        pattern=r"^[\x21-\x7e]+$",
        description="Makes the request safe to retry: same key + same body = same reply.",
    ),
]
TraceParent = Annotated[str | None, Header(description="W3C trace context")]


class LineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sku: str = Field(min_length=1, max_length=32, pattern=model.SKU.pattern, examples=["SKU-1042"])
    quantity: int = Field(ge=1, le=model.MAX_QUANTITY)
    unit_price_cents: int = Field(ge=1, le=model.MAX_UNIT_PRICE_CENTS)


class OrderIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    customer_id: str = Field(
        min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f]+$", examples=["cust-0042"]
    )
    currency: str = Field(pattern=r"^[A-Z]{3}$", examples=["EUR"])
    sales_channel: str = Field(default="web", pattern=r"^(web|mobile|partner)$")
    lines: list[LineIn] = Field(min_length=1, max_length=model.MAX_LINES)


class CancelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(
        min_length=1,
        max_length=model.MAX_REASON,
        pattern=r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]+$",  # tab and newline allowed
    )
