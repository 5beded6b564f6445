"""The orders routes: each turns a request into a service command and the service's domain
result into a response (``STATUS`` maps it); no rule of the domain is decided here."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from opentelemetry import trace
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from contract.tracing import traceparent_of
from producer_app.bootstrap import Producer
from producer_app.domain.model import OrderLine
from producer_app.entrypoints.models import CancelIn, IdempotencyKey, OrderIn, TraceParent
from producer_app.service_layer import services
from producer_app.service_layer.idempotency import IdempotencyRequest
from producer_app.service_layer.messages import TRACEPARENT, MessageContext, new_traceparent
from producer_app.service_layer.results import Change, Result

log = logging.getLogger("producer_app.api")

# How HTTP says what a write use case did. A replay answers with the first request's status.
STATUS = {Change.PLACED: 201, Change.CANCELLED: 200}


def _context(key: str | None, traceparent: str | None) -> MessageContext:
    valid = traceparent is not None and TRACEPARENT.match(traceparent)
    return MessageContext(key, traceparent if valid else new_traceparent())


def _response(result: Result, context: MessageContext) -> JSONResponse:
    # The request's span when traced (the events' spans are its children), else the context
    # the events carry.
    current = traceparent_of(trace.get_current_span())
    headers = {"traceparent": current or context.traceparent or ""}
    if result.replayed:
        headers["Idempotent-Replayed"] = "true"
    return JSONResponse(result.order, status_code=STATUS[result.change], headers=headers)


def _idempotency(key: str | None, scope: str, payload: Any) -> IdempotencyRequest | None:
    return IdempotencyRequest.of(key, scope, payload) if key else None


def orders_router(producer: Producer) -> APIRouter:
    router = APIRouter()

    async def run(
        service: Callable[..., Result], cmd: object, context: MessageContext
    ) -> JSONResponse:
        """A write use case in a worker thread (it blocks on the database), in its own unit
        of work carrying the request's message context; its result mapped to a response."""
        result = await run_in_threadpool(service, cmd, producer.uow(context), producer.clock)
        return _response(result, context)

    @router.post("/orders", status_code=201, summary="Place an order")
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
            idempotency=_idempotency(idempotency_key, "place", payload),
        )
        return await run(services.place_order, cmd, context)

    @router.get("/orders/{order_id}", summary="Read an order")
    async def read(order_id: uuid.UUID) -> dict[str, Any]:
        return await run_in_threadpool(services.get_order, order_id, producer.uow(MessageContext()))

    @router.post("/orders/{order_id}/cancel", summary="Cancel a placed order")
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
            idempotency=_idempotency(idempotency_key, f"cancel:{order_id}", body.model_dump()),
        )
        return await run(services.cancel_order, cmd, context)

    return router


def health_router(producer: Producer) -> APIRouter:
    router = APIRouter()

    @router.get("/health", summary="Liveness and database reachability")
    async def health() -> JSONResponse:
        def ping() -> None:
            with producer.engine.connect() as conn:
                conn.execute(text("SELECT 1"))

        try:
            await run_in_threadpool(ping)
        except OperationalError as exc:
            # The cause stays in the log: libpq's message names the host, the port and, on a
            # refused login, the role, none of which an unauthenticated caller should learn.
            log.warning("health: database unreachable: %s", exc.orig)
            return JSONResponse({"status": "unhealthy", "database": "unreachable"}, 503)
        return JSONResponse({"status": "ok", "database": "ok"})

    return router
