"""The HTTP API's request and response bodies and headers: what a client may send, validated
before any service runs (a 422 that names the field: pydantic refuses a string with a lone
surrogate, which JSON's ``\\ud800`` escapes make and no UTF-8 column or header could hold), and
every answer's shape, so the OpenAPI spec documents each status the API returns with its body."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Header
from pydantic import BaseModel, ConfigDict, Field, JsonValue

from producer_app.domain import model

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        pattern=r"^[\x21-\x7e]+$",
        description="Makes the request safe to retry: same key + same body = same reply. "
        "Keys are the client's own; reusing one for another request is a 409.",
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
    # The spec lists the currencies the domain accepts (amounts in cents: two decimals).
    currency: str = Field(
        pattern=r"^[A-Z]{3}$",
        examples=["EUR"],
        json_schema_extra={"enum": list[JsonValue](sorted(model.CURRENCIES))},
    )
    sales_channel: str = Field(default="web", pattern=r"^(web|mobile|partner)$")
    lines: list[LineIn] = Field(min_length=1, max_length=model.MAX_LINES)


class CancelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(
        min_length=1,
        max_length=model.MAX_REASON,
        pattern=r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]+$",  # tab and newline allowed
    )


class LineOut(BaseModel):
    sku: str
    quantity: int
    unit_price_cents: int


class OrderOut(BaseModel):
    """An order as its client sees it (``service_layer.views.order_view``)."""

    id: str
    customer_id: str
    currency: str
    status: str = Field(examples=["placed", "cancelled"])
    sales_channel: str
    lines: list[LineOut]
    total_cents: int
    placed_at: str
    cancelled_at: str | None
    cancel_reason: str | None


class Problem(BaseModel):
    """One thing wrong with a request. ``loc`` names where (``["body", "lines", 0, "sku"]``,
    ``["header", "Idempotency-Key"]``) when a part of the request is to blame; ``input`` is
    what was sent there, escaped and cut short."""

    loc: list[str | int] | None = None
    msg: str
    type: str
    input: Any = None
    ctx: dict[str, Any] | None = None


class Problems(BaseModel):
    """Every refusal: 4xx for the request's fault, 503 for the database's."""

    detail: list[Problem]


class Health(BaseModel):
    status: str = Field(examples=["ok", "unhealthy"])
    database: str = Field(examples=["ok", "unreachable"])
