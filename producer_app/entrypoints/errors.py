"""Domain and service results mapped to HTTP: each error the layers below raise has one
status code here, every refusal names what is wrong (``detail[].loc`` and ``msg``), and every
answer has the ``Problems`` shape the OpenAPI spec documents.

What a refusal echoes back of the request (``input``, a ``loc`` naming a key the client
made up) is escaped and cut to ``MAX_ECHO`` characters: a lone surrogate would not encode
(a 500), and a 100 KB value would come back whole."""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException

from producer_app.domain.model import DomainError, InvalidOrder, OrderAlreadyCancelled
from producer_app.entrypoints.auth import Unauthenticated
from producer_app.entrypoints.limits import BodyTooLarge, too_large
from producer_app.service_layer import services
from producer_app.service_layer.idempotency import KeyReused

MAX_ECHO = 64
MAX_MESSAGE = 500


def problem(
    status: int,
    msg: str,
    kind: str,
    loc: list[str | int] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    detail: dict[str, Any] = {"msg": msg, "type": kind}
    if loc is not None:
        detail["loc"] = loc
    return JSONResponse({"detail": [detail]}, status_code=status, headers=headers)


def error(status: int, field: str | None, message: str) -> JSONResponse:
    loc: list[str | int] | None = None
    if field is not None:
        loc = ["body", *field.replace("]", "").replace("[", ".").split(".")]
    return problem(status, message, "domain_error", loc)


def escaped(text: str, limit: int = MAX_ECHO) -> str:
    """``text`` safe to echo: a lone surrogate becomes ``\\ud800``, and past ``limit``
    characters it is cut, saying how long it was."""
    safe = text.encode("utf-8", "backslashreplace").decode("utf-8")
    if len(safe) <= limit:
        return safe
    return f"{safe[:limit]}... ({len(text)} characters)"


def echoed(value: Any) -> Any:
    """A value of the request, as a refusal may show it: scalars as they are (a non-finite
    float as text), anything else as its JSON, escaped and cut like text."""
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else repr(value)
    if isinstance(value, str | BaseException):
        return escaped(str(value))
    return escaped(json.dumps(jsonable_encoder(value), default=repr))


def _located(item: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "loc": [p if isinstance(p, int) else escaped(str(p)) for p in item.get("loc", ())],
        "msg": escaped(str(item.get("msg", "")), MAX_MESSAGE),
        "type": str(item.get("type", "value_error")),
    }
    if "input" in item:
        out["input"] = echoed(item["input"])
    ctx = item.get("ctx")
    if isinstance(ctx, dict):
        out["ctx"] = {escaped(str(k)): echoed(v) for k, v in ctx.items()}
    return out


async def _bad_request(_: Request, exc: Exception) -> JSONResponse:
    """FastAPI's own 422 (``detail[].loc`` names the field), safe for any input it echoes."""
    assert isinstance(exc, RequestValidationError)
    return JSONResponse({"detail": [_located(e) for e in exc.errors()]}, status_code=422)


async def _invalid(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, InvalidOrder)
    return error(422, exc.field, exc.message)


async def _conflict(_: Request, exc: Exception) -> JSONResponse:
    return error(409, None, str(exc))


async def _domain(_: Request, exc: Exception) -> JSONResponse:
    return error(422, None, str(exc))


async def _reused(_: Request, exc: Exception) -> JSONResponse:
    """A valid request refused for the key's state, not for its content: a conflict (409),
    as a cancel of a cancelled order is."""
    assert isinstance(exc, KeyReused)
    message = escaped(str(exc), MAX_MESSAGE)
    return problem(409, message, "idempotency_key_reused", ["header", "Idempotency-Key"])


async def _not_found(_: Request, exc: Exception) -> JSONResponse:
    return error(404, None, str(exc))


async def _unauthenticated(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Unauthenticated)
    challenge = 'Bearer error="invalid_token"' if exc.invalid else "Bearer"
    return problem(
        401, str(exc), "unauthorized", ["header", "Authorization"], {"WWW-Authenticate": challenge}
    )


async def _db_down(_: Request, exc: Exception) -> JSONResponse:
    return problem(
        503, "database unavailable, retry later", "unavailable", headers={"Retry-After": "1"}
    )


async def _too_large(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, BodyTooLarge)
    return too_large(exc.limit)


async def _http(_: Request, exc: Exception) -> JSONResponse:
    """Starlette's own refusals (no such path, a method the path does not serve) in the
    API's shape, with their headers (``Allow``). A body FastAPI could not even read as text
    (bytes that are not UTF-8, a number too long to parse) names the body, as any other
    unreadable body does (422 ``json_invalid``)."""
    assert isinstance(exc, HTTPException)
    if exc.status_code == 400:
        return problem(422, "the body is not JSON in UTF-8", "json_invalid", ["body"])
    headers = dict(exc.headers) if exc.headers else None
    return problem(exc.status_code, str(exc.detail), "http_error", headers=headers)


def install(app: FastAPI) -> None:
    """Most specific first is not needed: Starlette picks the handler of the closest class."""
    app.add_exception_handler(RequestValidationError, _bad_request)
    app.add_exception_handler(HTTPException, _http)
    app.add_exception_handler(BodyTooLarge, _too_large)
    app.add_exception_handler(Unauthenticated, _unauthenticated)
    app.add_exception_handler(InvalidOrder, _invalid)
    app.add_exception_handler(OrderAlreadyCancelled, _conflict)
    app.add_exception_handler(DomainError, _domain)
    app.add_exception_handler(KeyReused, _reused)
    app.add_exception_handler(services.OrderNotFound, _not_found)
    app.add_exception_handler(OperationalError, _db_down)
