"""``python -m producer_app migrate|serve|seed``: settings are built here and passed down."""

from __future__ import annotations

import argparse
import sys

from producer_app.settings import ProducerSettings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m producer_app")
    sub = parser.add_subparsers(dest="verb", required=True)
    sub.add_parser("migrate", help="apply database migrations")
    sub.add_parser("serve", help="run the HTTP API (uvicorn)")
    seed = sub.add_parser("seed", help="place random orders through the service layer")
    seed.add_argument("--orders", type=int, default=1000)
    seed.add_argument("--rate", type=float, default=0.0, help="orders/s; 0 = as fast as possible")
    seed.add_argument("--cancel-ratio", type=float, default=0.1)
    seed.add_argument("--workers", type=int, default=4)
    seed.add_argument("--seed", type=int, default=None, help="random seed, for repeatable data")
    args = parser.parse_args(argv)
    settings = ProducerSettings()

    if args.verb == "migrate":
        from producer_app.migrate import upgrade

        upgrade(settings)
        print("producer_app migrations at head")
        return 0

    from producer_app.bootstrap import bootstrap

    metrics = None
    if args.verb == "serve":
        from prometheus_client import CollectorRegistry

        from producer_app.entrypoints.metrics import ApiMetrics

        metrics = ApiMetrics(CollectorRegistry())
    from contract.tracing import provider

    tracer_provider = provider("orders-api" if args.verb == "serve" else "orders-seed")
    producer = bootstrap(
        settings,
        written=metrics.written if metrics else lambda types: None,
        tracer_provider=tracer_provider,
    )
    try:
        if args.verb == "serve":
            import uvicorn

            from producer_app.entrypoints import janitor
            from producer_app.entrypoints.api import create_app

            janitor.start(producer)

            uvicorn.run(
                create_app(producer, metrics, tracer_provider),
                host=settings.api_host,
                port=settings.api_port,
                log_level="info",
                access_log=False,
            )
        else:
            from producer_app.entrypoints.seed import seed as run_seed

            result = run_seed(
                producer,
                orders=args.orders,
                rate=args.rate,
                cancel_ratio=args.cancel_ratio,
                workers=args.workers,
                seed_value=args.seed,
            )
            print(result.summary())
    finally:
        producer.close()
        if tracer_provider is not None:
            tracer_provider.shutdown()  # flushes spans still queued for the exporter
    return 0


if __name__ == "__main__":
    sys.exit(main())
