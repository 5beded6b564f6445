"""HTTP API (FastAPI): place, read and cancel orders; health; OpenAPI docs at /docs.

Validation errors are 422 and name the field (``detail[].loc``); domain rule violations too.
``Idempotency-Key`` makes POSTs safe to retry: a replay returns the first reply with the header
``Idempotent-Replayed: true`` and writes nothing; the same key with another body is a 422.
``traceparent`` is kept (or started) and travels with the events into the Kafka headers.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import FastAPI, Header, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from producer_app.bootstrap import Producer
from producer_app.domain import model
from producer_app.domain.model import DomainError, InvalidOrder, OrderAlreadyCancelled, OrderLine
from producer_app.service_layer import services
from producer_app.service_layer.idempotency import IdempotencyRequest, KeyReused, Reply
from producer_app.service_layer.messages import TRACEPARENT, MessageContext, new_traceparent

MAX_BODY_BYTES = 64 * 1024
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
    customer_id: str = Field(min_length=1, max_length=64, examples=["cust-0042"])
    currency: str = Field(pattern=r"^[A-Z]{3}$", examples=["EUR"])
    sales_channel: str = Field(default="web", pattern=r"^(web|mobile|partner)$")
    lines: list[LineIn] = Field(min_length=1, max_length=model.MAX_LINES)


class CancelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=model.MAX_REASON)


def _context(key: str | None, traceparent: str | None) -> MessageContext:
    valid = traceparent is not None and TRACEPARENT.match(traceparent)
    return MessageContext(key, traceparent if valid else new_traceparent())


def _reply(reply: Reply, context: MessageContext) -> JSONResponse:
    headers = {"traceparent": context.traceparent or ""}
    if reply.replayed:
        headers["Idempotent-Replayed"] = "true"
    return JSONResponse(reply.body, status_code=reply.status, headers=headers)


def _error(status: int, field: str | None, message: str) -> JSONResponse:
    detail: dict[str, Any] = {"msg": message, "type": "domain_error"}
    if field is not None:
        detail["loc"] = ["body", *field.replace("]", "").replace("[", ".").split(".")]
    return JSONResponse({"detail": [detail]}, status_code=status)


def create_app(producer: Producer) -> FastAPI:
    app = FastAPI(
        title="Orders API",
        version="1.0.0",
        description="Places orders and publishes their events through the outbox.",
    )

    @app.middleware("http")
    async def limit_body(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY_BYTES):
            return _error(413, None, f"request body larger than {MAX_BODY_BYTES} bytes")
        return await call_next(request)

    @app.exception_handler(InvalidOrder)
    async def invalid(_: Request, exc: InvalidOrder) -> JSONResponse:
        return _error(422, exc.field, exc.message)

    @app.exception_handler(OrderAlreadyCancelled)
    async def conflict(_: Request, exc: OrderAlreadyCancelled) -> JSONResponse:
        return _error(409, None, str(exc))

    @app.exception_handler(DomainError)
    async def domain(_: Request, exc: DomainError) -> JSONResponse:
        return _error(422, None, str(exc))

    @app.exception_handler(KeyReused)
    async def reused(_: Request, exc: KeyReused) -> JSONResponse:
        return JSONResponse(
            {
                "detail": [
                    {
                        "loc": ["header", "Idempotency-Key"],
                        "msg": str(exc),
                        "type": "idempotency_key_reused",
                    }
                ]
            },
            status_code=422,
        )

    @app.exception_handler(services.OrderNotFound)
    async def not_found(_: Request, exc: services.OrderNotFound) -> JSONResponse:
        return _error(404, None, str(exc))

    @app.exception_handler(OperationalError)
    async def db_down(_: Request, exc: OperationalError) -> JSONResponse:
        return JSONResponse(
            {"detail": "database unavailable, retry later"},
            status_code=503,
            headers={"Retry-After": "1"},
        )

    @app.post("/orders", status_code=201, summary="Place an order")
    async def place(
        body: OrderIn, idempotency_key: IdempotencyKey = None, traceparent: TraceParent = None
    ) -> JSONResponse:
        context = _context(idempotency_key, traceparent)
        payload = body.model_dump()
        cmd = services.PlaceOrder(
            customer_id=body.customer_id,
            currency=body.currency,
            sales_channel=body.sales_channel,
            lines=tuple(OrderLine(li.sku, li.quantity, li.unit_price_cents) for li in body.lines),
            idempotency=IdempotencyRequest.of(idempotency_key, "place", payload)
            if idempotency_key
            else None,
        )
        reply = await run_in_threadpool(
            services.place_order, cmd, producer.uow(context), producer.clock
        )
        return _reply(reply, context)

    @app.get("/orders/{order_id}", summary="Read an order")
    async def read(order_id: uuid.UUID) -> dict[str, Any]:
        return await run_in_threadpool(services.get_order, order_id, producer.uow(MessageContext()))

    @app.post("/orders/{order_id}/cancel", summary="Cancel a placed order")
    async def cancel(
        order_id: uuid.UUID,
        body: CancelIn,
        idempotency_key: IdempotencyKey = None,
        traceparent: TraceParent = None,
    ) -> JSONResponse:
        context = _context(idempotency_key, traceparent)
        cmd = services.CancelOrder(
            order_id=order_id,
            reason=body.reason,
            idempotency=IdempotencyRequest.of(
                idempotency_key, f"cancel:{order_id}", body.model_dump()
            )
            if idempotency_key
            else None,
        )
        reply = await run_in_threadpool(
            services.cancel_order, cmd, producer.uow(context), producer.clock
        )
        return _reply(reply, context)

    @app.get("/health", summary="Liveness and database reachability")
    async def health() -> JSONResponse:
        def ping() -> None:
            with producer.engine.connect() as conn:
                conn.execute(text("SELECT 1"))

        try:
            await run_in_threadpool(ping)
        except OperationalError as exc:
            return JSONResponse(
                {"status": "unhealthy", "database": str(exc.orig)[:200]}, status_code=503
            )
        return JSONResponse({"status": "ok", "database": "ok"})

    return app
