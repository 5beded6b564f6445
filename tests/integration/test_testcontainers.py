"""The producer against a throwaway Postgres in Docker (testcontainers), as a user's own test
would run it: the project's Postgres image (compose's, built here from Debian's package; the
official ``postgres:15`` works the same way where a registry is reachable), on the engine the
``docker_engine`` fixture provides (the user's, or the private one CI starts)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from producer_app.bootstrap import bootstrap
from producer_app.migrate import upgrade
from producer_app.service_layer import services
from producer_app.service_layer.messages import MessageContext
from producer_app.service_layer.results import Change
from producer_app.settings import ProducerSettings
from tests import factories
from tests.engine import ensure_image

IMAGE = "outbox/postgres:dev"

pytestmark = [pytest.mark.integration, pytest.mark.docker]


@pytest.fixture(scope="module")
def container_settings(docker_engine: dict[str, str]) -> Iterator[ProducerSettings]:
    from testcontainers.community.postgres import PostgresContainer
    from testcontainers.core.config import testcontainers_config

    ensure_image(docker_engine, "postgres", IMAGE)
    with pytest.MonkeyPatch.context() as patch:
        # docker-py and testcontainers read the engine from the environment: only here.
        for name, value in docker_engine.items():
            patch.setenv(name, value)
        # Ryuk, testcontainers' reaper, is an image from a registry; the `with` below stops
        # the container instead.
        patch.setattr(testcontainers_config, "ryuk_disabled", True)
        with PostgresContainer(IMAGE, username="app", password="app-test", dbname="shop") as pg:
            yield from _migrated(pg)


def _migrated(pg: Any) -> Iterator[ProducerSettings]:
    settings = ProducerSettings(
        postgres_host=pg.get_container_host_ip(),
        postgres_port=int(pg.get_exposed_port(5432)),
        postgres_db="shop",
        app_db_user="app",
        app_db_password="app-test",
        _env_file=None,
    )
    with psycopg.connect(
        host=settings.postgres_host,
        port=settings.postgres_port,
        dbname="shop",
        user="app",
        password="app-test",
        autocommit=True,
    ) as conn:
        conn.execute("CREATE SCHEMA orders")
    upgrade(settings)
    yield settings


def test_an_order_and_its_outbox_event_commit_together(
    container_settings: ProducerSettings,
) -> None:
    producer = bootstrap(container_settings)
    cmd = factories.place_cmd()
    result = services.place_order(cmd, producer.uow(MessageContext("k", None)), producer.clock)
    producer.close()
    assert result.change is Change.PLACED
    with psycopg.connect(
        host=container_settings.postgres_host,
        port=container_settings.postgres_port,
        dbname="shop",
        user="app",
        password="app-test",
    ) as conn:
        row = conn.execute(
            "SELECT count(*) FROM orders.orders WHERE id = %s", (cmd.order_id,)
        ).fetchone()
    assert row == (1,)
