"""Prometheus metrics of the API, served at ``/metrics`` by the app itself.

- ``http_server_request_duration_seconds{method, route, status}``: a histogram per request
  (OpenTelemetry's HTTP server metric, in Prometheus' units); its ``_count`` is the request
  count by route and status. ``route`` is the template (``/orders/{order_id}``), never the
  raw path: one series per order id would grow without bound. ``method`` is one the API
  serves, or ``other``: a client may send any token as a method, and each would be a new
  series (300 made-up methods grew ``/metrics`` from 46 KB to 595 KB).
- ``outbox_api_events_written_total{event_type}``: events whose outbox row committed (counted
  after the commit: a rolled-back use case wrote none).
- ``outbox_api_idempotent_replays_total{route}``: requests answered from an earlier reply.
- ``outbox_api_conflicts_total{route}``: 409s, a state change the order's state refuses.

One uvicorn process serves the API, so one registry holds it all; it is made per app by
``create_app`` (no global registry), which the tests use to see their own counts only.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10)


class ApiMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.requests = Histogram(
            "http_server_request_duration_seconds",
            "HTTP requests by method, route template and status",
            ["method", "route", "status"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.events = Counter(
            "outbox_api_events_written",
            "Events whose outbox row committed",
            ["event_type"],
            registry=registry,
        )
        self.replays = Counter(
            "outbox_api_idempotent_replays",
            "Requests answered from the first reply to their Idempotency-Key",
            ["route"],
            registry=registry,
        )
        self.conflicts = Counter(
            "outbox_api_conflicts",
            "Requests refused because of the order's state (409)",
            ["route"],
            registry=registry,
        )

    def written(self, event_types: Sequence[str]) -> None:
        for event_type in event_types:
            self.events.labels(event_type).inc()


def route_of(scope: Scope) -> str:
    """The matched route's template; requests no route matched share one label value."""
    route = scope.get("route")
    return str(getattr(route, "path", None) or "unmatched")


class RequestMetrics:
    """ASGI middleware timing every HTTP request; the route is known after routing, so it is
    read from the scope once the response started."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics, methods: frozenset[str]) -> None:
        self.app = app
        self.metrics = metrics
        self.methods = methods

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] == "/metrics":
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                if message.get("headers") and _replayed(message["headers"]):
                    self.metrics.replays.labels(route_of(scope)).inc()
                if status == 409:
                    self.metrics.conflicts.labels(route_of(scope)).inc()
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            method = scope["method"] if scope["method"] in self.methods else "other"
            self.metrics.requests.labels(method, route_of(scope), str(status)).observe(
                time.perf_counter() - started
            )


def _replayed(headers: Any) -> bool:
    return any(k.lower() == b"idempotent-replayed" and v == b"true" for k, v in headers)


def metrics_router(metrics: ApiMetrics) -> APIRouter:
    router = APIRouter()

    @router.get("/metrics", include_in_schema=False)
    def exposition() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return router
