"""The API's housekeeping thread: expired Idempotency-Keys are purged every
``idempotency_purge_interval_seconds``, so ``orders.idempotency_keys`` holds about one TTL of
keys however long the service runs. It runs in the API process (``serve`` starts it), next to
the only writer of the table; a database outage only postpones a purge."""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta

from sqlalchemy.exc import SQLAlchemyError

from producer_app.adapters.idempotency import purge_expired
from producer_app.bootstrap import Producer

log = logging.getLogger("producer_app.janitor")


def purge_once(producer: Producer) -> int:
    ttl = timedelta(hours=producer.settings.idempotency_ttl_hours)
    try:
        n = purge_expired(producer.engine, ttl)
    except SQLAlchemyError as exc:
        log.warning("purge of expired Idempotency-Keys postponed: %s", exc)
        return 0
    if n:
        log.info("purged %d Idempotency-Keys older than %s", n, ttl)
    return n


def start(producer: Producer) -> threading.Thread | None:
    interval = producer.settings.idempotency_purge_interval_seconds
    if interval <= 0:
        return None

    def loop() -> None:
        while True:
            purge_once(producer)
            time.sleep(interval)

    thread = threading.Thread(target=loop, name="janitor", daemon=True)
    thread.start()
    return thread
