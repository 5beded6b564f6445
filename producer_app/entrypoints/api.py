"""HTTP API (FastAPI): place, read and cancel orders; health; OpenAPI docs at /docs.

Every ``/orders`` call carries a client's API key (``Authorization: Bearer``), and an order is
its client's alone. Validation errors are 422 and name the field (``detail[].loc``); domain
rule violations too. ``Idempotency-Key`` makes POSTs safe to retry: a replay returns the first
reply with the header ``Idempotent-Replayed: true`` and writes nothing; the same key with
another body is a 409. ``traceparent`` is kept (or started) and travels with the events into
the Kafka headers.
"""

from __future__ import annotations

from fastapi import FastAPI
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import CollectorRegistry

from producer_app.bootstrap import Producer
from producer_app.entrypoints import errors
from producer_app.entrypoints.auth import Authenticator
from producer_app.entrypoints.headers import SecurityHeaders
from producer_app.entrypoints.limits import MAX_BODY_BYTES, BodyLimit, HeaderLimit
from producer_app.entrypoints.metrics import ApiMetrics, RequestMetrics, metrics_router
from producer_app.entrypoints.routes import health_router, orders_router


def create_app(
    producer: Producer,
    metrics: ApiMetrics | None = None,
    tracer_provider: TracerProvider | None = None,
) -> FastAPI:
    """The app: the orders routes, the errors mapped to status codes, a body size limit,
    ``/metrics`` (``metrics``' registry; a fresh one if none is given), and a SERVER span per
    request when ``tracer_provider`` is given (OpenTelemetry's FastAPI instrumentation: it
    continues the caller's ``traceparent``; the outbox writes are its children)."""
    metrics = metrics or ApiMetrics(CollectorRegistry())
    app = FastAPI(
        title="Orders API",
        version="1.0.0",
        description="Places orders and publishes their events through the outbox.",
    )

    if producer.keys is None:
        raise RuntimeError("API_KEY_PEPPER is not set: the API cannot check API keys without it")
    app.state.authenticator = Authenticator(producer.keys)
    errors.install(app)
    routers = [orders_router(producer), health_router(producer), metrics_router(metrics)]
    for router in routers:
        app.include_router(router)
    routes = [*app.routes, *(route for router in routers for route in router.routes)]
    served = frozenset(m for route in routes for m in getattr(route, "methods", None) or ())
    # Innermost first: sizes are checked before any route runs, every answer (a 431 too)
    # carries the security headers, and every request is counted.
    app.add_middleware(BodyLimit, limit=MAX_BODY_BYTES)
    app.add_middleware(HeaderLimit)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(RequestMetrics, metrics=metrics, methods=served)
    if tracer_provider is not None:
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

        FastAPIInstrumentor.instrument_app(
            app, tracer_provider=tracer_provider, excluded_urls="health,metrics"
        )
    return app
