"""SQLModel tables of the ``orders`` schema. The domain never sees them: the repository maps
rows to aggregates, so the aggregate's rules cannot be bypassed by writing a row."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Column, DateTime, ForeignKey, LargeBinary
from sqlmodel import Field, SQLModel

SCHEMA = "orders"


class OrderRow(SQLModel, table=True):
    __tablename__ = "orders"
    __table_args__ = {"schema": SCHEMA}

    id: uuid.UUID = Field(primary_key=True)
    customer_id: str
    currency: str
    status: str
    total_cents: int = Field(sa_column=Column(BigInteger, nullable=False))
    sales_channel: str
    placed_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    cancelled_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    cancel_reason: str | None = None
    # False for orders placed before event ids were derived (migration 0004).
    event_ids_derived: bool = False
    # The API client that placed it (migration 0006); None before clients existed.
    client: str | None = None


class OrderLineRow(SQLModel, table=True):
    __tablename__ = "order_lines"
    __table_args__ = {"schema": SCHEMA}

    order_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey(f"{SCHEMA}.orders.id"), primary_key=True)
    )
    line_no: int = Field(primary_key=True)
    sku: str
    quantity: int
    unit_price_cents: int = Field(sa_column=Column(BigInteger, nullable=False))


class OutboxRow(SQLModel, table=True):
    """One event to publish. Inserted and deleted in the same transaction (see migration 0001)."""

    __tablename__ = "outbox"
    __table_args__ = {"schema": SCHEMA}

    id: uuid.UUID = Field(primary_key=True)
    aggregate_type: str
    aggregate_id: str
    event_type: str
    # The writer schema's version, copied into the ``schema_version`` header (migration 0005).
    schema_version: int | None = None
    payload: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    idempotency_key: str | None = None
    traceparent: str | None = None
    created_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
