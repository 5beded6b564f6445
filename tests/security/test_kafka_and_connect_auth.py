"""Kafka and Kafka Connect answer nobody anonymously, and each Kafka principal may do only
its part's work: checked on the running native stack, against the real broker's SASL/SCRAM
and ACLs and Connect's REST extension (see stack/kafka_auth.py for who may do what)."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAuthorizationFailedError
from pydantic import SecretStr

from consumers.settings import ConsumerSettings
from contract.kafka import KafkaAccess
from contract.topics import ORDER_EVENTS, dlq_topic
from stack.rest import ConnectRest
from stack.settings import StackSettings
from tests import factories
from tests.conftest import ROOT
from tests.kafka_helpers import grant

pytestmark = pytest.mark.integration
FAST = {"request_timeout_ms": 3000, "bootstrap_timeout_ms": 3000}


def _send(access: KafkaAccess, topic: str) -> None:
    """One forged OrderPlaced (valid Avro, our headers) to ``topic``, waiting for the ack."""
    m = factories.kafka_message(factories.placed_record())
    producer = KafkaProducer(**access.client(acks="all", retries=0, max_block_ms=5000))
    try:
        producer.send(topic, key=m.key, value=m.value, headers=list(m.headers)).get(timeout=10)
    finally:
        producer.close(timeout=2)


def _list_topics(**config: object) -> set[str]:
    consumer = KafkaConsumer(request_timeout_ms=3000, bootstrap_timeout_ms=3000, **config)
    try:
        return set(consumer.topics())
    finally:
        consumer.close()


def test_an_anonymous_client_gets_nothing(kafka_up: KafkaAccess) -> None:
    with pytest.raises(KafkaError):
        _list_topics(bootstrap_servers=kafka_up.bootstrap_servers)
    assert ORDER_EVENTS in _list_topics(**kafka_up.client())  # the same call, logged in


def test_a_wrong_password_gets_nothing(kafka_up: KafkaAccess) -> None:
    wrong = KafkaAccess(kafka_up.bootstrap_servers, "admin", SecretStr("not-the-password"))
    with pytest.raises(KafkaError):
        _list_topics(**wrong.client())


@pytest.fixture
def notifications(stack_settings: StackSettings, kafka_up: KafkaAccess) -> KafkaAccess:
    """The notifications group's own principal (made by `make up` with its ACLs)."""
    return stack_settings.kafka_group("notifications")


@pytest.fixture
def throwaway(kafka_up: KafkaAccess) -> Iterator[tuple[str, KafkaAccess]]:
    """A group of its own, granted exactly what `make up` grants every group, so the allowed
    write lands in its own dead-letter topic, never in one a real replay would read."""
    settings = ConsumerSettings(_env_file=ROOT / ".env")
    group = f"sec-{uuid.uuid4().hex[:8]}"
    grant(kafka_up, settings, group, ORDER_EVENTS)
    admin = KafkaAdminClient(**kafka_up.client())
    admin.create_topics([NewTopic(dlq_topic(group), 1, 1)])  # as its consumers would
    yield group, settings.kafka_for(group)
    with contextlib.suppress(KafkaError):
        admin.delete_topics([dlq_topic(group)])
    admin.close()


def test_a_group_cannot_forge_an_event(notifications: KafkaAccess) -> None:
    with pytest.raises(TopicAuthorizationFailedError):
        _send(notifications, ORDER_EVENTS)


def test_a_group_cannot_write_another_groups_dead_letters(
    notifications: KafkaAccess, throwaway: tuple[str, KafkaAccess]
) -> None:
    with pytest.raises(TopicAuthorizationFailedError):
        _send(notifications, dlq_topic("inventory"))
    group, access = throwaway
    with pytest.raises(TopicAuthorizationFailedError):
        _send(access, dlq_topic("notifications"))
    _send(access, dlq_topic(group))  # its own: the same ACLs are not deny-all


def test_a_group_cannot_read_a_topic_it_has_no_business_with(
    notifications: KafkaAccess, kafka_up: KafkaAccess
) -> None:
    topic = f"secret.{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(**kafka_up.client())
    try:
        admin.create_topics([NewTopic(topic, 1, 1)])
        consumer = KafkaConsumer(**notifications.client(request_timeout_ms=5000))
        try:
            assert topic not in consumer.topics()  # not even its name
            assert ORDER_EVENTS in consumer.topics()
        finally:
            consumer.close()
    finally:
        admin.delete_topics([topic])
        admin.close()


def test_connect_principal_cannot_administer(stack_settings: StackSettings) -> None:
    admin = KafkaAdminClient(**stack_settings.kafka_as("connect").client(**FAST))
    try:
        with pytest.raises(KafkaError):
            admin.delete_topics([ORDER_EVENTS])
    finally:
        admin.close()


def _get(url: str, authorization: str | None) -> int:
    request = urllib.request.Request(url)  # noqa: S310 (http URL from settings)
    if authorization is not None:
        request.add_header("Authorization", authorization)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def test_connect_rest_refuses_requests_without_the_operators_credentials(
    connect_up: ConnectRest,
) -> None:
    url = f"{connect_up.url}/connectors"
    wrong = "Basic " + base64.b64encode(b"operator:guess").decode()
    assert _get(url, None) == 401
    assert _get(url, wrong) == 401
    assert _get(url, connect_up.authorization()) == 200


def _topic_prefix_errors(rest: ConnectRest, prefix: str) -> list[str]:
    """Connect's validation of the real connector with ``topic.prefix`` set to ``prefix``:
    the worker resolves ``${env:...}`` first, so its error names the resolved value."""
    config = json.loads((ROOT / "connectors/orders-outbox.json").read_text())["config"]
    config["topic.prefix"] = prefix
    plugin = config["connector.class"]
    answer = rest.call(
        f"/connector-plugins/{plugin}/config/validate", method="PUT", body=config, timeout=30
    )
    assert isinstance(answer, dict)
    for item in answer["configs"]:
        value = item.get("value") or {}
        if value.get("name") == "topic.prefix":
            return [str(e) for e in value.get("errors", [])]
    raise AssertionError("no topic.prefix in Connect's validation")


def test_connect_resolves_only_the_allowed_variables(connect_up: ConnectRest) -> None:
    """HOME is in the worker's environment but not in the provider's allowlist: a connector
    config cannot read it (nor any other secret that might be there); POSTGRES_DB it can."""
    assert _topic_prefix_errors(connect_up, "${env:POSTGRES_DB}") == []  # resolved: "shop"
    [refused] = _topic_prefix_errors(connect_up, "${env:HOME}")
    assert "${env:HOME} has invalid format" in refused  # left unresolved
    assert os.environ["HOME"] not in refused
