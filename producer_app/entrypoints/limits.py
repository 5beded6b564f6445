"""Request size limits.

- The body, enforced while it is read: a ``Content-Length`` over the limit is refused before
  a byte is read, and a body without one (``Transfer-Encoding: chunked``) is counted as it
  arrives and refused as soon as it passes the limit, so a client cannot make the API read
  and parse megabytes by leaving the length out (413).
- The headers: names and values together over ``MAX_HEADER_BYTES`` are a 431. The server
  itself (uvicorn's h11) drops a header block over ``SERVER_HEADER_BYTES`` before the API
  sees it, so what a client can make the process hold per request stays small."""

from __future__ import annotations

from fastapi import HTTPException
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY_BYTES = 64 * 1024
# As nginx's and Apache's defaults for one header line: a real client sends well under 1 KiB.
MAX_HEADER_BYTES = 8 * 1024
SERVER_HEADER_BYTES = 64 * 1024


class BodyTooLarge(HTTPException):
    """Raised from inside the body read; FastAPI lets an ``HTTPException`` through its body
    parsing, and ``errors`` turns it into a 413 naming the limit."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body larger than {limit} bytes")
        self.limit = limit


class BodyLimit:
    """Pure ASGI middleware (no ``BaseHTTPMiddleware``): it wraps ``receive`` itself."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = _header(scope, b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.limit):
            await _refuse(scope, receive, send, self.limit)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise BodyTooLarge(self.limit)
            return message

        await self.app(scope, counted, send)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return None


def too_large(limit: int) -> JSONResponse:
    """The 413 in the API's error shape (``detail[].msg``); the connection is closed, since
    the rest of the body is never read."""
    detail = {"msg": f"request body larger than {limit} bytes", "type": "body_too_large"}
    return JSONResponse({"detail": [detail]}, status_code=413, headers={"Connection": "close"})


async def _refuse(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
    await too_large(limit)(scope, receive, send)


class HeaderLimit:
    """Pure ASGI middleware: a request whose headers pass ``limit`` bytes is answered 431
    before any route or dependency runs."""

    def __init__(self, app: ASGIApp, limit: int = MAX_HEADER_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            size = sum(len(k) + len(v) for k, v in scope["headers"])
            if size > self.limit:
                detail = {
                    "msg": f"request headers larger than {self.limit} bytes",
                    "type": "headers_too_large",
                    "loc": ["header"],
                }
                response = JSONResponse(
                    {"detail": [detail]}, status_code=431, headers={"Connection": "close"}
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
