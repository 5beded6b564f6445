"""``python -m producer_app migrate|serve|seed|republish|api-key``: settings are built here and
passed down."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from opentelemetry.sdk.trace import TracerProvider

from contract.cli import count, fail, parser_for, rate, uuids, when
from contract.tracing import provider
from producer_app.bootstrap import Producer, bootstrap
from producer_app.settings import ProducerSettings

if TYPE_CHECKING:
    from producer_app.entrypoints.metrics import ApiMetrics

MAKE_NAMES = {
    "--orders": "ORDERS",
    "--rate": "RATE",
    "--ids": "IDS",
    "--since": "SINCE",
    "--all": "ALL",
    "--until": "UNTIL",
    "name": "NAME",
}


def _client(text: str) -> str:
    """A client's name as ``make api-key NAME=`` takes it; a bad one named in one line."""
    from producer_app.service_layer.clients import InvalidClientName, client_name

    try:
        return client_name(text)
    except InvalidClientName as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def parser() -> argparse.ArgumentParser:
    parser_class = parser_for(MAKE_NAMES)
    parser = parser_class(prog="python -m producer_app")
    sub = parser.add_subparsers(dest="verb", required=True, parser_class=parser_class)
    sub.add_parser("migrate", help="apply database migrations")
    sub.add_parser("serve", help="run the HTTP API (uvicorn)")
    key = sub.add_parser("api-key", help="print a new API key for a client (shown once)")
    key.add_argument("name", type=_client, help="the client: 1-63 of a-z, 0-9, '.', '_', '-'")
    key.add_argument("--revoke", action="store_true", help="revoke every key of the client")
    seed = sub.add_parser(
        "seed", help="place random orders through the service layer, as API_KEY's client"
    )
    seed.add_argument("--orders", type=count(1, 10_000_000), default=1000)
    seed.add_argument("--rate", type=rate, default=0.0, help="orders/s; 0 = as fast as possible")
    seed.add_argument("--cancel-ratio", type=float, default=0.1)
    seed.add_argument("--workers", type=count(1, 64), default=4)
    seed.add_argument("--seed", type=int, default=None, help="random seed, for repeatable data")
    again = sub.add_parser("republish", help="write chosen orders' events to the outbox again")
    which = again.add_mutually_exclusive_group(required=True)
    which.add_argument("--ids", type=uuids, help="comma-separated order ids")
    which.add_argument("--since", type=when, help="orders placed at or after (ISO 8601)")
    which.add_argument("--all", action="store_true", help="every order")
    again.add_argument("--until", type=when, help="orders placed before (ISO 8601)")
    again.add_argument(
        "--legacy", action="store_true", help="also orders placed before ids were derived"
    )
    return parser


def serve(
    producer: Producer,
    settings: ProducerSettings,
    metrics: ApiMetrics | None,
    tracer_provider: TracerProvider | None,
) -> None:
    """The HTTP API in the foreground (uvicorn), and the idempotency keys' janitor."""
    import uvicorn

    from producer_app.entrypoints import janitor
    from producer_app.entrypoints.api import create_app
    from producer_app.entrypoints.limits import SERVER_HEADER_BYTES

    janitor.start(producer)
    uvicorn.run(
        create_app(producer, metrics, tracer_provider),
        host=settings.api_host,
        port=settings.api_port,
        log_level="info",
        access_log=False,
        h11_max_incomplete_event_size=SERVER_HEADER_BYTES,
    )


def republish_orders(producer: Producer, args: argparse.Namespace) -> None:
    """``republish``: the chosen orders' events written to the outbox again."""
    from producer_app.entrypoints.republish import Unknown, republish

    try:
        done = republish(
            producer,
            order_ids=args.ids,
            since=args.since,
            until=args.until,
            legacy=args.legacy,
        )
    except Unknown as exc:
        fail(str(exc))
    print(done.summary())


def seed_orders(producer: Producer, args: argparse.Namespace) -> None:
    """``seed``: random orders placed through the service layer as ``API_KEY``'s client."""
    from producer_app.entrypoints.keys_cli import KeyRefused, seed_client
    from producer_app.entrypoints.seed import seed as run_seed

    try:
        client = seed_client(producer)
    except KeyRefused as exc:
        fail(str(exc))
    result = run_seed(
        producer,
        client=client,
        orders=args.orders,
        rate=args.rate,
        cancel_ratio=args.cancel_ratio,
        workers=args.workers,
        seed_value=args.seed,
    )
    print(result.summary())


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.verb == "republish" and args.until and args.ids:
        fail("UNTIL (--until) goes with SINCE= or ALL=1, not IDS=")
    if args.verb == "republish" and args.until and args.since and args.until <= args.since:
        fail(f"UNTIL (--until) {args.until.isoformat()} is not after SINCE")
    settings = ProducerSettings()

    if args.verb == "migrate":
        from producer_app.migrate import upgrade

        upgrade(settings)
        print("producer_app migrations at head")
        return 0

    metrics = None
    if args.verb == "serve":
        from prometheus_client import CollectorRegistry

        from producer_app.entrypoints.metrics import ApiMetrics

        metrics = ApiMetrics(CollectorRegistry())
    tracer_provider = provider("orders-api" if args.verb == "serve" else "orders-seed")
    producer = bootstrap(
        settings,
        written=metrics.written if metrics else lambda types: None,
        tracer_provider=tracer_provider,
    )
    try:
        if args.verb == "api-key":
            from producer_app.entrypoints.keys_cli import api_key

            return api_key(producer, args.name, revoke=args.revoke)
        if args.verb == "serve":
            serve(producer, settings, metrics, tracer_provider)
        elif args.verb == "republish":
            republish_orders(producer, args)
        else:
            seed_orders(producer, args)
    finally:
        producer.close()
        if tracer_provider is not None:
            tracer_provider.shutdown()  # flushes spans still queued for the exporter
    return 0


if __name__ == "__main__":
    sys.exit(main())
