"""The producer against a throwaway Postgres in Docker (testcontainers), for machines with a
Docker engine. Where none answers (this project's CI has none) it is skipped, saying so."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import psycopg
import pytest

from producer_app.bootstrap import bootstrap
from producer_app.migrate import upgrade
from producer_app.service_layer import services
from producer_app.service_layer.messages import MessageContext
from producer_app.service_layer.results import Change
from producer_app.settings import ProducerSettings
from tests import factories


def docker_answers() -> bool:
    try:
        return (
            subprocess.run(
                ["docker", "info"], capture_output=True, timeout=10, check=False
            ).returncode
            == 0
        )
    except (FileNotFoundError, subprocess.TimeoutExpired):
        return False


pytestmark = [
    pytest.mark.docker,
    pytest.mark.skipif(
        not docker_answers(),
        reason="no Docker engine answers `docker info`; "
        "the native-stack tests cover the same paths",
    ),
]


@pytest.fixture(scope="module")
def container_settings() -> Iterator[ProducerSettings]:
    from testcontainers.postgres import PostgresContainer

    with PostgresContainer(
        "postgres:15", username="app", password="app-test", dbname="shop"
    ).with_command("postgres -c wal_level=logical -c track_commit_timestamp=on") as pg:
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
