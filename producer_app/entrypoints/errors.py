"""Domain and service results mapped to HTTP: each error the layers below raise has one
status code here, and every refusal names what is wrong (``detail[].loc`` and ``msg``)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError

from producer_app.domain.model import DomainError, InvalidOrder, OrderAlreadyCancelled
from producer_app.entrypoints.limits import BodyTooLarge, too_large
from producer_app.service_layer import services
from producer_app.service_layer.idempotency import KeyReused


def error(status: int, field: str | None, message: str) -> JSONResponse:
    detail: dict[str, Any] = {"msg": message, "type": "domain_error"}
    if field is not None:
        detail["loc"] = ["body", *field.replace("]", "").replace("[", ".").split(".")]
    return JSONResponse({"detail": [detail]}, status_code=status)


async def _invalid(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, InvalidOrder)
    return error(422, exc.field, exc.message)


async def _conflict(_: Request, exc: Exception) -> JSONResponse:
    return error(409, None, str(exc))


async def _domain(_: Request, exc: Exception) -> JSONResponse:
    return error(422, None, str(exc))


async def _reused(_: Request, exc: Exception) -> JSONResponse:
    detail = {
        "loc": ["header", "Idempotency-Key"],
        "msg": str(exc),
        "type": "idempotency_key_reused",
    }
    return JSONResponse({"detail": [detail]}, status_code=422)


async def _not_found(_: Request, exc: Exception) -> JSONResponse:
    return error(404, None, str(exc))


async def _db_down(_: Request, exc: Exception) -> JSONResponse:
    return JSONResponse(
        {"detail": "database unavailable, retry later"},
        status_code=503,
        headers={"Retry-After": "1"},
    )


def _json_safe(value: Any) -> Any:
    """The value if JSON can carry it, else its repr: a body may hold ``Infinity`` or ``NaN``
    (Python's JSON parser accepts them), which a strict JSON reply cannot echo back."""
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return repr(value)
    return value


async def _bad_request(_: Request, exc: Exception) -> JSONResponse:
    """FastAPI's own 422 (``detail[].loc`` names the field), safe for any input it echoes."""
    assert isinstance(exc, RequestValidationError)
    detail = [
        {k: _json_safe(v) for k, v in error.items()} for error in jsonable_encoder(exc.errors())
    ]
    return JSONResponse({"detail": detail}, status_code=422)


async def _too_large(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, BodyTooLarge)
    return too_large(exc.limit)


def install(app: FastAPI) -> None:
    """Most specific first is not needed: Starlette picks the handler of the closest class."""
    app.add_exception_handler(RequestValidationError, _bad_request)
    app.add_exception_handler(BodyTooLarge, _too_large)
    app.add_exception_handler(InvalidOrder, _invalid)
    app.add_exception_handler(OrderAlreadyCancelled, _conflict)
    app.add_exception_handler(DomainError, _domain)
    app.add_exception_handler(KeyReused, _reused)
    app.add_exception_handler(services.OrderNotFound, _not_found)
    app.add_exception_handler(OperationalError, _db_down)
