"""The orders routes: each turns a request into a service command and the service's domain
result into a response (``STATUS`` maps it); no rule of the domain is decided here.

Every ``/orders`` call is a client's, named by its API key (``auth``); ``/health`` is open.
Each route lists every status it can answer with its body (``documented``), so the OpenAPI
spec is the whole contract (a bounded schemathesis run checks it in ``make test``)."""

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
from producer_app.entrypoints.auth import Client
from producer_app.entrypoints.models import (
    CancelIn,
    Health,
    IdempotencyKey,
    OrderIn,
    OrderOut,
    Problems,
    TraceParent,
)
from producer_app.service_layer import services
from producer_app.service_layer.idempotency import IdempotencyRequest
from producer_app.service_layer.messages import TRACEPARENT, MessageContext, new_traceparent
from producer_app.service_layer.results import Change, Result

log = logging.getLogger("producer_app.api")

# How HTTP says what a write use case did. A replay answers with the first request's status.
STATUS = {Change.PLACED: 201, Change.CANCELLED: 200}
WHY = {
    401: "No API key, or not a live one (`WWW-Authenticate: Bearer`)",
    404: "No such order for this client (another client's order is not found either)",
    409: "The order's state refuses it (already cancelled), or the Idempotency-Key was used "
    "for another request",
    413: "The body is larger than 64 KiB",
    422: "A field, header or the body is invalid; `loc` names it",
    431: "The request headers are larger than 8 KiB",
    503: "The database is unreachable; retry (`Retry-After`)",
}


def documented(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The refusals a route can answer, each with the ``Problems`` body."""
    return {code: {"model": Problems, "description": WHY[code]} for code in codes}


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


def _idempotency(
    key: str | None, scope: str, payload: Any, client: str
) -> IdempotencyRequest | None:
    return IdempotencyRequest.of(key, scope, payload, client) if key else None


def orders_router(producer: Producer) -> APIRouter:
    """The ``/orders`` routes, closing over one ``producer`` (no global app state). Over 60
    lines because each route is a few lines of FastAPI declarations (its statuses, its
    dependencies) around one service call, and they share ``run``; one screen shows the API."""
    router = APIRouter()

    async def run(
        service: Callable[..., Result], cmd: object, context: MessageContext
    ) -> JSONResponse:
        """A write use case in a worker thread (it blocks on the database), in its own unit
        of work carrying the request's message context; its result mapped to a response."""
        result = await run_in_threadpool(service, cmd, producer.uow(context), producer.clock)
        return _response(result, context)

    @router.post(
        "/orders",
        status_code=201,
        summary="Place an order",
        response_model=OrderOut,
        responses=documented(401, 409, 413, 422, 431, 503),
    )
    async def place(
        body: OrderIn,
        client: Client,
        idempotency_key: IdempotencyKey = None,
        traceparent: TraceParent = None,
    ) -> JSONResponse:
        context = _context(idempotency_key, traceparent)
        payload = body.model_dump()
        cmd = services.PlaceOrder(
            customer_id=body.customer_id,
            currency=body.currency,
            sales_channel=body.sales_channel,
            lines=tuple(OrderLine(li.sku, li.quantity, li.unit_price_cents) for li in body.lines),
            idempotency=_idempotency(idempotency_key, "place", payload, client),
            client=client,
        )
        return await run(services.place_order, cmd, context)

    @router.get(
        "/orders/{order_id}",
        summary="Read an order",
        response_model=OrderOut,
        responses=documented(401, 404, 422, 431, 503),
    )
    async def read(order_id: uuid.UUID, client: Client) -> dict[str, Any]:
        uow = producer.uow(MessageContext())
        return await run_in_threadpool(services.get_order, order_id, client, uow)

    @router.post(
        "/orders/{order_id}/cancel",
        summary="Cancel a placed order",
        response_model=OrderOut,
        responses=documented(401, 404, 409, 413, 422, 431, 503),
    )
    async def cancel(
        order_id: uuid.UUID,
        body: CancelIn,
        client: Client,
        idempotency_key: IdempotencyKey = None,
        traceparent: TraceParent = None,
    ) -> JSONResponse:
        context = _context(idempotency_key, traceparent)
        payload = body.model_dump()
        cmd = services.CancelOrder(
            order_id=order_id,
            reason=body.reason,
            client=client,
            idempotency=_idempotency(idempotency_key, f"cancel:{order_id}", payload, client),
        )
        return await run(services.cancel_order, cmd, context)

    return router


def health_router(producer: Producer) -> APIRouter:
    router = APIRouter()

    @router.get(
        "/health",
        summary="Liveness and database reachability (no key needed)",
        response_model=Health,
        responses={
            503: {"model": Health, "description": "The database is unreachable"},
            **documented(431),
        },
    )
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
